"""The outbox relay that lets the workers consume from RabbitMQ (``BROKER_URL=amqp://…``).

The receiver writes each event and its dedup key in one atomic Redis step, and so do
the profile flusher and the follow-up scheduler; an atomic step cannot span Redis and
RabbitMQ. So with RabbitMQ the Redis queues stay where every message is first written —
an outbox — and :class:`Relay`, a thread in each worker process, moves their messages
to the RabbitMQ queues of the same names:

1. fetch a batch from an outbox queue, the way a Redis worker does: the ids move to
   this process's unacknowledged set, under its heartbeat;
2. publish each message and wait for RabbitMQ's confirm (``confirm_delivery``);
3. acknowledge it in Redis, which deletes it from the outbox.

A relay that dies between 1 and 3 leaves its batch in its unacknowledged set, and the
:class:`~workers.queue.sweeper.Sweeper` of any live worker puts it back once the heartbeat is
``HOOKRELAY_HEARTBEAT_TIMEOUT_S`` old, so nothing is lost. Only a death between a
confirm and its acknowledgement publishes that one message again: the same
at-least-once window as a worker killed between a platform's answer and its ack.
While RabbitMQ is unreachable, the batch goes back to the outbox and the receiver keeps
accepting events into Redis; they move as soon as RabbitMQ answers again.

Delayed messages (the ``.DQ`` queues) keep their ``eta`` and go to RabbitMQ's delay
queue of the same name, where Dramatiq's worker holds them until they are due. Only
those due within the horizon get there (workers/queue/due.py): one due later (written
before the due set existed) goes to the due set instead, so no RabbitMQ consumer holds
a delivery past its ``consumer_timeout``.
"""

from __future__ import annotations

import logging

import pika.exceptions
import redis
from dramatiq import Broker, Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from dramatiq.errors import BrokerConnectionError

from workers.core.periodic import ThreadMiddleware
from workers.queue.layout import REDIS_ID

logger = logging.getLogger(__name__)

#: Messages fetched from one outbox queue at a time.
BATCH = 100
#: Pause after an idle pass (one short Redis call per outbox queue, like an idle Redis
#: consumer's poll), and the first pause after a failure (doubled up to 30 s).
IDLE_S = 0.1
FAILURE_PAUSE_S = 0.5
MAX_FAILURE_PAUSE_S = 30.0


#: What an outage of Redis or RabbitMQ raises (anything else is logged with a traceback).
STORES_AWAY = (redis.RedisError, BrokerConnectionError, pika.exceptions.AMQPError)


class Relay(ThreadMiddleware):
    """Moves messages from the Redis outbox to the worker broker (see the module
    docstring) on a thread of its own, from :meth:`start` to :meth:`stop`; as a
    middleware, from worker boot to worker shutdown.

    Parameters:
      outbox: the Redis broker whose queues the receiver writes
        (a :class:`~workers.queue.broker.SweepingRedisBroker` on ``REDIS_URL``).
      queues: the canonical queue names; each one's delay queue is relayed too.
      batch: messages fetched per queue and pass; more is faster after a backlog, and
        is what a dead relay's heartbeat timeout holds back.
    """

    def __init__(self, outbox: RedisBroker, *, queues: tuple[str, ...], batch: int = BATCH) -> None:
        super().__init__("hookrelay-relay")
        self.outbox = outbox
        self.names = tuple(name for queue in queues for name in (queue, dq_name(queue)))
        self.batch = batch
        #: Queues whose last pass failed half-way.
        self._interrupted: set[str] = set()

    def relay_once(self, broker: Broker) -> int:
        """One batch from every outbox queue; returns how many messages moved."""
        return sum(self._relay_queue(broker, name) for name in self.names)

    def _run(self, broker: Broker) -> None:
        pause_s = FAILURE_PAUSE_S
        while not self._thread.stopping():
            try:
                moved = self.relay_once(broker)
            except Exception as error:
                expected = isinstance(error, STORES_AWAY)
                logger.warning(
                    "Relay to the broker paused for %.1f s: %s",
                    pause_s,
                    error,
                    exc_info=None if expected else error,
                )
                self._thread.wait(pause_s)
                pause_s = min(pause_s * 2, MAX_FAILURE_PAUSE_S)
                continue
            pause_s = FAILURE_PAUSE_S
            if not moved:
                self._thread.wait(IDLE_S)

    def _relay_queue(self, broker: Broker, name: str) -> int:
        """One batch of ``name``. A pass that failed half-way (a publish refused, a fetch
        or an ack that Redis ran but did not answer in time) leaves messages in this
        relay's unacknowledged set; the next pass of the queue puts them back first, so
        none stays stranded in a live worker (one may be published twice)."""
        if name in self._interrupted:
            self.outbox.return_held(name)
        self._interrupted.add(name)
        fetched = self.outbox.do_fetch(name, self.batch)
        messages = [Message.decode(data) for data in fetched if data is not None]
        for done, message in enumerate(messages):
            try:
                self._forward(broker, message)
            except (BrokerConnectionError, pika.exceptions.AMQPError):
                self._put_back(name, messages[done:])
                raise
            self.outbox.do_ack(name, message.options[REDIS_ID])
        self._interrupted.discard(name)
        return len(messages)

    def _forward(self, broker: Broker, message: Message) -> None:
        """Publish ``message``, or defer it to the due set if it is due past the horizon
        (same id: deferring it twice leaves one entry)."""
        eta = message.options.get("eta")
        if eta is not None and self.outbox.due.defers(eta):
            self.outbox.due.defer(message)
        else:
            broker.enqueue(message)

    def _put_back(self, name: str, messages: list[Message]) -> None:
        """Return messages not yet published to their outbox queue."""
        self.outbox.do_requeue(name, *(m.options[REDIS_ID] for m in messages))
