"""The sweeper: returns dead workers' messages and keeps live workers' heartbeats fresh
(the why is in workers/queue/broker.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.core.periodic import Periodic

if TYPE_CHECKING:
    from workers.queue.broker import SweepingRedisBroker


class Sweeper(Periodic):
    """Runs :meth:`SweepingRedisBroker.sweep` on a timer inside each worker process.

    Parameters:
      queues: the Redis broker to sweep: the workers' own, or the outbox that the
        :class:`~workers.queue.relay.Relay` moves to RabbitMQ.
      interval_s: seconds between sweeps. Each sweep costs two short Lua calls per
        queue, so a few seconds is cheap and keeps recovery well inside a minute.
    """

    job = "queue sweep"

    def __init__(self, queues: SweepingRedisBroker, *, interval_s: float) -> None:
        super().__init__(interval_s=interval_s)
        self.queues = queues

    def tick(self, broker) -> None:
        self.queues.sweep()
