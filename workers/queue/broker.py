"""The Dramatiq broker the workers consume from, tuned so no message is stranded.

Dramatiq's Redis broker hands a killed worker's unacknowledged messages to another
only during "maintenance", which runs on a random 0.1 % of commands and only for the
queue the command touched, after the dead worker's heartbeat is 60 s old; and a
worker's heartbeat is refreshed only when one of its consumers talks to Redis. On a
quiet queue that can strand messages for many minutes, and a worker busy with slow
calls can look dead. :class:`Sweeper` fixes both: a thread in each worker process
that, every ``sweep_interval_s``, refreshes the heartbeat and runs maintenance on
every queue, so a dead worker's messages come back within roughly
``heartbeat_timeout_s + sweep_interval_s``.

With ``BROKER_URL=amqp://…`` the workers consume from RabbitMQ, and these Redis
queues become the outbox a :class:`~workers.queue.relay.Relay` empties into it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from functools import partial
from importlib.resources import files
from typing import Any

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import dq_name, xq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Middleware,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from workers.core import lua
from workers.core.background import FailureStreak, GaveUp
from workers.core.connections import redis_client
from workers.core.door import Door
from workers.core.replication import Replication
from workers.core.roundtrip import WithHeld
from workers.core.settings import Settings
from workers.core.spans import spans_from
from workers.core.stopping import SingleStop
from workers.metrics.throughput import DeliveryRate
from workers.queue.claims import LEAVE_UNACKED, ConfirmedClaims
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.due import DEFAULT_HORIZON_S, DefersLongDelays, DueSet
from workers.queue.forgotten import ForgottenGuard, ScrubsForgotten, door_stops
from workers.queue.held import HeldWrites
from workers.queue.layout import (
    NAMESPACE,
    REDIS_ID,
    acks_prefix,
    heartbeats_key,
    is_delay_queue,
    messages_key,
    queue_key,
)
from workers.queue.policy import RetryPolicy
from workers.queue.relay import Relay
from workers.queue.retry import DeliveryPolicy
from workers.queue.routes import QUEUES
from workers.queue.spans import DeliverySpans
from workers.queue.sweeper import Sweeper
from workers.trace.trace import EventTrace

logger = logging.getLogger(__name__)

DEFAULT_IDLE_POLL_MS = 100
#: How often an acknowledgement is tried again while Redis is away.
ACK_RETRY_S = 0.5
#: Keys asked for per SCAN call when looking for a dead worker's other ack sets.
SCAN_COUNT = 1000

_RECLAIM = lua.draining(lua.read(__package__, "reclaim.lua"))
_HEARTBEAT = lua.draining(lua.read(__package__, "heartbeat.lua"))
#: Dramatiq's own script, through which its Redis broker fetches, acks and enqueues.
_DISPATCH = lua.draining(files("dramatiq.brokers").joinpath("redis", "dispatch.lua").read_text())


class SweepingRedisBroker(ScrubsForgotten, DefersLongDelays, RedisBroker):
    """A :class:`RedisBroker` whose :meth:`sweep` does Dramatiq's maintenance without
    ever scanning the keyspace, and whose idle consumers poll at least every
    ``idle_poll_ms``. Delays longer than ``delay_horizon_s`` wait in its
    :class:`~workers.queue.due.DueSet`, which each sweep promotes.

    Dramatiq's own maintenance runs on a random 0.1 % of commands and, while a dead
    worker lingers, calls ``KEYS`` on every run: with millions of dedup keys in the
    same Redis that blocks every client, hooks included. So it never runs here
    (:meth:`_should_do_maintenance`); :meth:`sweep` returns dead workers' messages queue
    by queue (the queues are known), finds any other ack set of theirs with ``SCAN``
    (paged, never blocking), and expires old entries of Dramatiq's ``.XQ`` queues.

    Dramatiq's consumers back off up to the worker timeout (1 s) while a queue is
    empty, which is what the first message after a quiet spell waits for; 100 ms costs
    about ten short Redis calls a second per queue and process.
    """

    def __init__(
        self,
        *,
        idle_poll_ms: int = DEFAULT_IDLE_POLL_MS,
        delay_horizon_s: float = DEFAULT_HORIZON_S,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        #: Set once the worker is asked to stop: what its consumers cannot acknowledge,
        #: and what the delivery policy cannot store, for Redis being away, is then
        #: left unacknowledged (workers/queue/claims.py, ``LEAVE_UNACKED``) for the
        #: sweep to give to another worker, instead of waiting for Redis to be back.
        self.stopping = threading.Event()
        self.idle_poll_ms = idle_poll_ms
        self.due = DueSet(self.client, horizon_s=delay_horizon_s, namespace=self.namespace)
        self._consumed: set[str] = set()
        #: Per queue, the Redis ids of messages handed to worker threads, not yet acked.
        self._in_flight: dict[str, set[str]] = {}
        self._reclaim = self.client.register_script(_RECLAIM)
        #: Since when this broker's heartbeats have succeeded without a break (ms);
        #: 0 at the start, when a dead peer's messages may go back at once.
        self._beating_since_ms: int | None = 0
        self._heartbeat = self.client.register_script(_HEARTBEAT)
        #: A worker thread's acknowledgement carries the writes it holds (workers/queue/held.py).
        self.scripts["dispatch"] = WithHeld(self.client.register_script(_DISPATCH))

    def emit_before(self, signal: str, *args: Any, **kwargs: Any) -> None:
        if signal == "worker_shutdown":
            self.stopping.set()
        super().emit_before(signal, *args, **kwargs)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> _Consumer:
        """A consumer for ``queue_name``; when a queue's consumer restarts, it first puts
        back what its predecessor held but no worker thread is processing.

        After a connection error Dramatiq restarts the consumer and drops what the old
        one had fetched but not handed out (its prefetch, its in-memory delay queue, a
        fetch whose answer timed out after Redis ran it): those stay in this live
        worker's unacknowledged set, which the sweep only empties for dead workers.
        """
        in_flight = self._in_flight.setdefault(queue_name, set())
        if queue_name in self._consumed:
            self.return_held(queue_name, in_flight)
        self._consumed.add(queue_name)
        return _Consumer(self, queue_name, prefetch, min(timeout, self.idle_poll_ms), in_flight)

    def held_key(self, queue_name: str) -> str:
        """The set of this worker's messages of ``queue_name`` not yet acknowledged."""
        return acks_prefix(self.broker_id, self.namespace) + queue_name

    def return_held(self, queue_name: str, in_flight: Collection[str] = ()) -> None:
        """Requeue this worker's unacknowledged messages of ``queue_name`` that no worker
        thread is processing; while Redis is unreachable, raise the error Dramatiq's
        consumer thread retries on."""
        try:
            held = self.client.smembers(self.held_key(queue_name))
            # A delay queue's consumer thread drops its in-memory queue on a restart:
            # everything it held is lost there. A queue's handed-out messages are with
            # the worker threads, which go on processing and acknowledging them.
            delayed = is_delay_queue(queue_name)
            idle = [m for m in held if delayed or m.decode() not in in_flight]
            if idle:
                self.do_requeue(queue_name, *idle)
        except redis.RedisError as error:
            raise ConnectionClosed(error) from None
        if idle:
            logger.info(
                "Returned %d messages held by a restarted %s consumer.", len(idle), queue_name
            )

    def sweep(self) -> int:
        """Heartbeat, move due messages to their delay queues, return dead workers'
        messages, expire old dead messages; returns how many messages went back.

        A worker whose heartbeat is older than the timeout is dead, unless Redis itself
        was away: through a pause or an outage no worker can heartbeat, and the first
        sweep after it would take every live peer's messages while they still process
        them, delivering them twice. So after its own heartbeat failed, this broker
        returns no one's messages until it has heartbeaten for a whole timeout again,
        time enough for every live peer to have done the same."""
        now_ms = int(time.time() * 1000)
        heartbeats = heartbeats_key(self.namespace)
        try:
            self._heartbeat(keys=[heartbeats], args=[now_ms, self.broker_id])
        except redis.RedisError:
            self._beating_since_ms = None
            raise
        if self._beating_since_ms is None:
            self._beating_since_ms = now_ms
        self.due.promote(now_ms)
        returned = 0
        if now_ms - self._beating_since_ms >= self.heartbeat_timeout:
            dead = self.client.zrangebyscore(heartbeats, 0, now_ms - self.heartbeat_timeout)
            returned = sum(self._reclaim_worker(worker.decode()) for worker in dead)
        self._expire_dead_messages(now_ms)
        return returned

    def _reclaim_worker(self, worker: str) -> int:
        """Every message ``worker`` held goes back to its queue; then it is forgotten."""
        prefix = acks_prefix(worker, self.namespace)
        names = {name for queue in self.queues for name in (queue, dq_name(queue))}
        names |= {
            key.decode()[len(prefix) :]
            for key in self.client.scan_iter(match=f"{prefix}*", count=SCAN_COUNT)
        }
        returned = 0
        for name in sorted(names):
            keys = [
                prefix + name,
                queue_key(name, self.namespace),
                messages_key(name, self.namespace),
            ]
            returned += self._reclaim(keys=keys)
        self.client.zrem(heartbeats_key(self.namespace), worker)
        if returned:
            logger.info("Returned %d messages held by dead worker %s.", returned, worker)
        return returned

    def _expire_dead_messages(self, now_ms: int) -> None:
        """Drop entries of Dramatiq's own ``.XQ`` queues older than ``dead_message_ttl``."""
        for queue in self.queues:
            dead = queue_key(xq_name(queue), self.namespace)
            expired = self.client.zrangebyscore(dead, 0, now_ms - self.dead_message_ttl)
            if expired:
                with self.client.pipeline(transaction=True) as pipe:
                    pipe.zrem(dead, *expired)
                    pipe.hdel(messages_key(xq_name(queue), self.namespace), *expired)
                    pipe.execute()

    def _should_do_maintenance(self, command: str) -> int:
        """Never: :meth:`sweep` does it (see the class docstring)."""
        return 0


class _Consumer(_RedisConsumer):
    """Dramatiq's Redis consumer, with these changes: every Redis error (a timeout too,
    not only a refused connection) is the ``ConnectionClosed`` that Dramatiq's consumer
    thread restarts on and retries acknowledgements on, so no Redis pause kills the
    thread; it keeps, in a set its broker owns, which messages are handed out and not
    yet acknowledged, so a restart knows what else it may put back; it does not
    acknowledge a message marked :data:`~workers.queue.claims.LEAVE_UNACKED`; and an
    acknowledgement that fails for Redis being away is tried again every
    :data:`ACK_RETRY_S` until it succeeds or the worker is asked to stop, when the
    message is left unacknowledged for another worker (Dramatiq retries every 5 s
    until Redis is back, and a worker asked to stop meanwhile could not)."""

    def __init__(
        self,
        broker: SweepingRedisBroker,
        queue_name: str,
        prefetch: int,
        timeout: int,
        in_flight: set[str],
    ) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self._in_flight = in_flight
        self._streak = FailureStreak(
            logger,
            f"Acknowledging {queue_name} messages",
            expected=(redis.RedisError, ConnectionClosed),
        )

    def __next__(self) -> MessageProxy | None:
        with _closed_on_redis_error():
            message = super().__next__()
        if message is not None:
            self._in_flight.add(message.options[REDIS_ID])
        return message

    def ack(self, message: MessageProxy) -> None:
        if message.options.get(LEAVE_UNACKED):
            self._leave(message)
        else:
            self._acknowledge(message, super().ack)
        self._in_flight.discard(message.options[REDIS_ID])

    def nack(self, message: MessageProxy) -> None:
        self._acknowledge(message, super().nack)
        self._in_flight.discard(message.options[REDIS_ID])

    def _acknowledge(self, message: MessageProxy, how: Callable[[MessageProxy], None]) -> None:
        """Acknowledge (or reject) ``message``, trying again while Redis is away (as
        Dramatiq would, every 5 s) until it is back, or until the worker stops.
        Dramatiq's own acknowledgement turns a refused connection into
        ``ConnectionClosed``; a timeout stays a Redis error."""
        try:
            self._streak.until_done(
                lambda: how(message),
                ACK_RETRY_S,
                retry_on=(redis.RedisError, ConnectionClosed),
                stop=self.broker.stopping,
            )
        except GaveUp:
            logger.warning(
                "Stopping with Redis away: message %s is left for another worker.",
                message.message_id,
            )
            self._leave(message)

    def _leave(self, message: MessageProxy) -> None:
        """Another worker is to be given it: only free its prefetch slot, as Dramatiq's
        own acknowledgement does."""
        self.queued_message_ids.discard(message.message_id)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        messages = list(messages)
        with _closed_on_redis_error():
            super().requeue(messages)
        for message in messages:
            self._in_flight.discard(message.options[REDIS_ID])


class DeferringRabbitmqBroker(ScrubsForgotten, DefersLongDelays, RabbitmqBroker):
    """Dramatiq's RabbitMQ broker, whose long delays wait in ``due`` (a
    :class:`~workers.queue.due.DueSet` in Redis) instead of a RabbitMQ consumer."""

    def __init__(self, *, due: DueSet, **options: Any) -> None:
        super().__init__(**options)
        self.due = due


@contextlib.contextmanager
def _closed_on_redis_error() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        raise ConnectionClosed(error) from None


def build_broker(
    settings: Settings, extra: Sequence[Middleware] = (), client: redis.Redis | None = None
) -> dramatiq.Broker:
    """The workers' broker: Dramatiq's default middleware with our delivery policy in
    place of ``Retries``, then ``extra`` (the profile flusher), and a sweeper of the
    Redis queues, on ``client`` (a new one if none). With ``BROKER_URL=amqp://…`` it is
    RabbitMQ, fed from those Redis queues by a relay."""
    worker = settings.worker
    client = client or redis_client(settings)
    policy = RetryPolicy(
        min_backoff_ms=worker.retry_min_backoff_ms,
        max_backoff_ms=worker.retry_max_backoff_ms,
        max_age_ms=settings.retry_max_age_s * 1000,
    )
    replication = Replication.from_settings(settings)
    # RabbitMQ keeps its own deliveries; the claims are only the Redis queues'.
    claims = replication.replicas and not settings.rabbitmq
    door = Door(client, settings.suppression_key)
    middleware = [
        HeldWrites(acks_carry=not settings.rabbitmq),
        SingleStop(),
        ForgottenGuard(door),
        *([ConfirmedClaims(client, replication)] if claims else []),
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        DeliveryPolicy(
            policy,
            DeadLetterQueue.from_settings(client, settings),
            DeliveryRate(client),
            confirm=partial(replication.confirm, client),
            trace=EventTrace(client, settings.trace_retention_s),
        ),
        *([DeliverySpans(spans_from(True))] if settings.otel else []),
        *extra,
    ]
    redis_queues = SweepingRedisBroker(
        client=client,
        namespace=NAMESPACE,
        heartbeat_timeout=int(worker.heartbeat_timeout_s * 1000),
        delay_horizon_s=worker.delay_horizon_s,
        middleware=[] if settings.rabbitmq else middleware,
    )
    broker: SweepingRedisBroker | DeferringRabbitmqBroker
    if settings.rabbitmq:
        broker = DeferringRabbitmqBroker(
            url=settings.broker_url,
            confirm_delivery=True,
            middleware=middleware,
            due=redis_queues.due,
        )
        for queue in QUEUES:
            redis_queues.declare_queue(queue)
        broker.add_middleware(Relay(redis_queues, queues=QUEUES))
    else:
        broker = redis_queues
    redis_queues.stops = broker.stops = door_stops(door)
    broker.add_middleware(Sweeper(redis_queues, interval_s=worker.sweep_interval_s))
    return broker
