"""The backlog gauges, read from Redis (and RabbitMQ) when scraped.

Served by ``web`` only, so a sum over targets does not count them twice: queue depth
and the oldest message's age per queue, dead letters waiting, and each platform's
current shared rate. These are one value for the whole deployment, whichever web
process is scraped. With RabbitMQ as the broker, its queues' depths are read from it
(workers/metrics/rabbitmq.py), and the Redis queues are reported as the outbox the
relay empties (``outbox.crm``…).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import redis
import sqlalchemy as sa
from dramatiq import Message
from dramatiq.common import dq_name
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from workers.health.report import Health, PlatformHealth
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.due import DUE_KEY, DUE_MESSAGES, due_entry
from workers.queue.layout import (
    WAITS,
    acks_prefix,
    heartbeats_key,
    is_delay_queue,
    messages_key,
    queue_key,
)
from workers.queue.routes import PROFILE_BUFFER
from workers.ratelimit.limiter import SharedRateLimiter

logger = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """The broker (RabbitMQ) did not answer a depth query."""


class DepthReader(Protocol):
    def read(self, names: Iterable[str]) -> dict[str, int]:
        """Depth per queue name; raises :class:`BrokerUnavailable`."""


@dataclass(frozen=True)
class QueueReading:
    name: str
    depth: int
    #: Seconds; ``None`` where there is no age to tell (delayed queues, the buffer).
    oldest_age_s: float | None


#: The states :attr:`Backlog.states` counts messages in (``hookrelay_messages``).
STATES = ("waiting", "in_flight", "delayed", "retrying", "paused", "dead_lettered")
#: Delayed messages read to tell retrying and paused ones from the rest, per place;
#: beyond this many, a random sample of this size gives the shares.
WAITS_SAMPLE = 1000


@dataclass(frozen=True)
class Backlog:
    queues: list[QueueReading]
    dead_letters: int
    #: Messages per state, counted where they are (see :meth:`BacklogCollector.states`).
    states: dict[str, int]
    #: platform → (current shared rate, configured ceiling), requests/s.
    rates: dict[str, tuple[float, float]]
    #: platform → its calls' record and circuit (workers/health/report.py).
    health: dict[str, Health]
    #: False when RabbitMQ is the broker and did not answer (its queues are missing).
    broker_up: bool = True


class BacklogCollector:
    """Gauges read from Redis when scraped (see the module docstring).

    Parameters:
      client: the Redis holding the broker's queues, the dead letters and the limits.
      queues: the Dramatiq queue names; each one's delay queue is reported too.
      limiters: the platforms' shared limiters, whose current rate is reported, and
        whose platforms' health and circuits are.
      broker: RabbitMQ's depths when it is the broker; the Redis queues are then its
        outbox.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        queues: Iterable[str],
        limiters: Iterable[SharedRateLimiter],
        broker: DepthReader | None = None,
        dead_letters: DeadLetterQueue | None = None,
    ) -> None:
        self._client = client
        self._queues = sorted({name for queue in queues for name in (queue, dq_name(queue))})
        self._limiters = list(limiters)
        self._dead_letters = dead_letters or DeadLetterQueue(client)
        self._health = PlatformHealth(client)
        self._broker = broker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges, and ``hookrelay_backlog_up`` saying whether Redis (and the SQL
        store, for dead letters past the Redis cap) answered."""
        try:
            families = list(self._families())
        except (redis.RedisError, sa.exc.SQLAlchemyError) as error:
            logger.warning("Cannot read the backlog for /metrics: %s", error)
            families = []
        yield from families
        yield GaugeMetricFamily(
            "hookrelay_backlog_up",
            "1 if Redis (and the SQL store) answered this scrape's backlog queries, else 0.",
            value=1 if families else 0,
        )

    def registry(self) -> CollectorRegistry:
        """A registry serving these gauges alone."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return registry

    def read(self) -> Backlog:
        """The backlog now (raises :class:`redis.RedisError` if Redis does not answer)."""
        queues, broker_up = self._broker_queues()
        queues += self._redis_queues(prefix="outbox." if self._broker else "")
        pending = self._client.llen(f"{PROFILE_BUFFER}:pending")
        queues.append(QueueReading("profiles-buffer", pending, None))
        queues.append(QueueReading("delayed-later", self._client.zcard(DUE_KEY), None))
        dead_letters = self._dead_letters.count()
        return Backlog(
            queues=queues,
            dead_letters=dead_letters,
            states=self.states(queues, dead_letters),
            rates={
                limiter.name: (limiter.current_rate(), limiter.ceiling)
                for limiter in self._limiters
            },
            health=self._health.read(limiter.name for limiter in self._limiters),
            broker_up=broker_up,
        )

    def states(self, queues: list[QueueReading], dead_letters: int) -> dict[str, int]:
        """Messages per state, counted where they really are, not only in the queues:

        - ``waiting``: in a queue, for a worker to take (with RabbitMQ: its queues);
        - ``in_flight``: taken by a worker (its prefetch or a thread), in that worker's
          acknowledgement set until it finishes;
        - ``delayed``, ``retrying``, ``paused``: waiting out a delay, in a delay
          queue, in the acknowledgement set of the worker whose delay consumer holds
          them until due, or in the due set when due past the horizon; ``retrying``
          ones are a failed attempt's backoff, ``paused`` ones wait for an open
          circuit's probe, the others are delayed (a scheduled fetch, an event
          waiting for its user's profile update). Which is which is read from the
          messages themselves (their ``waits`` option): all of them up to
          :data:`WAITS_SAMPLE` per place, a random sample of that many beyond;
        - ``dead_lettered``: given up, waiting to be replayed or purged.

        A worker's acknowledgement sets are where retrying messages spend a platform's
        outage, so without them a deployment in trouble reads as idle. With RabbitMQ
        as the broker, the messages its consumers hold are RabbitMQ's to count (its
        unacknowledged messages) and are not included."""
        listed = [(q.name.removeprefix("outbox."), q.depth) for q in queues]
        listed = [(name, depth) for name, depth in listed if name in self._queues]
        held = list((self._held() if self._broker is None else {}).items())
        later = sum(q.depth for q in queues if q.name == "delayed-later")
        per_queue: Counter[str] = Counter()
        for name, depth in [*listed, *held]:
            if is_delay_queue(name):
                per_queue[name] += depth
        delayed: Counter[str] = Counter()
        for name, depth in per_queue.items():
            if depth:
                delayed.update(_split(depth, self._waits(messages_key(name))))
        if later:
            delayed.update(_split(later, self._waits(DUE_MESSAGES, due=True)))
        return {
            "waiting": sum(depth for name, depth in listed if not is_delay_queue(name)),
            "in_flight": sum(count for name, count in held if not is_delay_queue(name)),
            "delayed": delayed["delayed"],
            "retrying": delayed["retrying"],
            "paused": delayed["paused"],
            "dead_lettered": dead_letters,
        }

    def _waits(self, key: str, *, due: bool = False) -> dict[str, float]:
        """The share of the messages stored under ``key`` (a delay queue's messages, or
        the due set's) that wait for each reason: ``retrying``, ``paused``, ``delayed``."""
        if self._client.hlen(key) <= WAITS_SAMPLE:
            values = self._client.hvals(key)
        else:
            pairs = self._client.hrandfield(key, WAITS_SAMPLE, withvalues=True)
            values = pairs[1::2]
        tally = Counter(_waits_for(value, due=due) for value in values)
        total = sum(tally.values()) or 1
        return {reason: count / total for reason, count in tally.items()}

    def _held(self) -> dict[str, int]:
        """Per queue, the messages in the acknowledgement sets of every worker with a
        heartbeat (a dead one's until the sweep gives them back)."""
        workers = self._client.zrange(heartbeats_key(), 0, -1)
        with self._client.pipeline(transaction=False) as pipe:
            for worker in workers:
                for queue in self._queues:
                    pipe.scard(acks_prefix(worker.decode()) + queue)
            counts = pipe.execute() if workers else []
        held = dict.fromkeys(self._queues, 0)
        for index, count in enumerate(counts):
            held[self._queues[index % len(self._queues)]] += count
        return held

    def _redis_queues(self, *, prefix: str) -> Iterator[QueueReading]:
        """The Redis queues, each named ``prefix`` + its queue name."""
        now_ms = time.time() * 1000
        for queue in self._queues:
            if is_delay_queue(queue):
                yield QueueReading(prefix + queue, self._client.llen(queue_key(queue)), None)
                continue
            count, oldest_ms = self._queue_state(queue)
            age_s = max(0.0, now_ms - oldest_ms) / 1000 if oldest_ms else 0.0
            yield QueueReading(prefix + queue, count, age_s)

    def _broker_queues(self) -> tuple[list[QueueReading], bool]:
        """RabbitMQ's queues when it is the broker, and whether it answered."""
        if self._broker is None:
            return [], True
        try:
            depths = self._broker.read(self._queues)
        except BrokerUnavailable as error:
            logger.warning("Cannot read RabbitMQ's queue depths: %s", error)
            return [], False
        return [QueueReading(name, depth, None) for name, depth in depths.items()], True

    def _families(self) -> Iterator[GaugeMetricFamily]:
        backlog = self.read()
        depth = GaugeMetricFamily(
            "hookrelay_queue_depth",
            "Messages waiting in each queue (a .DQ queue: delayed ones not yet taken by a "
            "worker; profiles-buffer: profile updates not yet coalesced; outbox.*: written "
            "to Redis, not yet relayed to RabbitMQ; delayed-later: delayed ones due past the "
            "horizon, waiting in Redis's due set).",
            labels=["queue"],
        )
        age = GaugeMetricFamily(
            "hookrelay_queue_oldest_age_seconds",
            "Age of the oldest message waiting in each queue.",
            labels=["queue"],
        )
        for queue in backlog.queues:
            depth.add_metric([queue.name], queue.depth)
            if queue.oldest_age_s is not None:
                age.add_metric([queue.name], queue.oldest_age_s)
        yield depth
        yield age
        if self._broker:
            yield GaugeMetricFamily(
                "hookrelay_broker_up",
                "1 if RabbitMQ, the broker, answered this scrape's depth queries, else 0.",
                value=int(backlog.broker_up),
            )
        yield GaugeMetricFamily(
            "hookrelay_dead_letters",
            "Dead letters waiting to be replayed or purged.",
            value=backlog.dead_letters,
        )
        states = GaugeMetricFamily(
            "hookrelay_messages",
            "Messages by state, counted where they are: waiting in a queue, in_flight "
            "with a worker, delayed, retrying (a failed attempt's backoff) or paused (an "
            "open circuit), held by workers' delay consumers included, dead_lettered.",
            labels=["state"],
        )
        for state in STATES:
            states.add_metric([state], backlog.states[state])
        yield states
        rate = GaugeMetricFamily(
            "hookrelay_rate_limit_current",
            "Each platform's shared rate in force (requests/s; lowered after a 429).",
            labels=["platform"],
        )
        ceiling = GaugeMetricFamily(
            "hookrelay_rate_limit_ceiling",
            "Each platform's configured rate limit (requests/s).",
            labels=["platform"],
        )
        for platform, (current, configured) in backlog.rates.items():
            rate.add_metric([platform], current)
            ceiling.add_metric([platform], configured)
        yield rate
        yield ceiling
        circuit = GaugeMetricFamily(
            "hookrelay_circuit_open",
            "1 while a platform's circuit breaker is open (its deliveries paused), else 0.",
            labels=["platform"],
        )
        for platform, health in backlog.health.items():
            circuit.add_metric([platform], int(health.open))
        yield circuit

    def _queue_state(self, queue: str) -> tuple[int, float | None]:
        """How many messages wait in ``queue``, and the oldest one's timestamp (ms)."""
        with self._client.pipeline(transaction=False) as pipe:
            pipe.llen(queue_key(queue))
            pipe.lindex(queue_key(queue), 0)
            count, head = pipe.execute()
        return count, self._timestamp(queue, head)

    def _timestamp(self, queue: str, message_id: bytes | None) -> float | None:
        if message_id is None:
            return None
        data = self._client.hget(messages_key(queue), message_id)
        if data is None:
            return None
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return Message.decode(data).message_timestamp
        return None


def _waits_for(value: bytes, *, due: bool) -> str:
    """What one stored delayed message waits for."""
    data = due_entry(value)[1] if due else value
    with contextlib.suppress(ValueError, KeyError, TypeError):
        waits = Message.decode(data).options.get(WAITS)
        if waits in ("retrying", "paused"):
            return waits
    return "delayed"


def _split(count: int, shares: dict[str, float]) -> Counter:
    """``count`` messages split by ``shares``, rounded so that the parts add up."""
    if not shares:
        return Counter(delayed=count)
    parts = Counter({reason: int(count * share) for reason, share in shares.items()})
    parts["delayed"] += count - sum(parts.values())
    return parts
