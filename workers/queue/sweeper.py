"""The sweeper: returns dead workers' messages and keeps live workers' heartbeats fresh
(the why is in workers/queue/broker.py), and stops a worker whose consumer thread died.

A worker process whose consumer thread died can no longer fetch from that queue, yet
its heartbeat would go on, so nobody would take back the messages it holds. The
sweeper checks its own worker's consumer threads before each sweep; if one ended
without being asked to, it stops heartbeating and ends the process with
:data:`EXIT_CONSUMER_DIED`, so its supervisor starts a new one and another worker
takes the messages back after the heartbeat timeout.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from dramatiq import Broker, Worker

from workers.core.periodic import Periodic

if TYPE_CHECKING:
    from workers.queue.broker import SweepingRedisBroker

logger = logging.getLogger(__name__)

EXIT_CONSUMER_DIED = 3


class Sweeper(Periodic):
    """Runs :meth:`SweepingRedisBroker.sweep` on a timer inside each worker process.

    Parameters:
      queues: the Redis broker to sweep: the workers' own, or the outbox that the
        :class:`~workers.queue.relay.Relay` moves to RabbitMQ.
      interval_s: seconds between sweeps. Each sweep costs two short Lua calls per
        queue, so a few seconds is cheap and keeps recovery well inside a minute.
      exit: how the process ends when a consumer thread died (tests pass their own).
    """

    job = "queue sweep"

    def __init__(
        self,
        queues: SweepingRedisBroker,
        *,
        interval_s: float,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        super().__init__(interval_s=interval_s)
        self.queues = queues
        self._exit = exit
        self._worker: Worker | None = None

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        self._worker = worker
        super().after_worker_boot(broker, worker)

    def tick(self, broker: Broker) -> None:
        dead = self.dead_consumers()
        if dead:
            logger.critical(
                "Consumer threads of %s died: ending this worker process (exit %d) so that "
                "it is restarted and its messages are taken back.",
                ", ".join(dead),
                EXIT_CONSUMER_DIED,
            )
            self._exit(EXIT_CONSUMER_DIED)
            return
        self.queues.sweep()

    def dead_consumers(self) -> list[str]:
        """The queues whose consumer thread ended without being asked to stop."""
        consumers = getattr(self._worker, "consumers", None) or {}
        return sorted(
            name
            for name, thread in consumers.items()
            if getattr(thread, "running", False) and not thread.is_alive()
        )
