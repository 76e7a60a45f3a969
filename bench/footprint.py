"""Footprint benchmark: bytes of Redis memory per accepted event, per profile and per
dead letter, side by side with the floor any 24 h dedup pays, in one run.

    python -m bench.footprint [--count 20000]

Starts a private embedded Redis and, for each row, measures ``used_memory`` before and
after writing ``count`` items through hookrelay's own code (the receiver's enqueue
script, Dramatiq's consumer for the acknowledgements, the profile buffer's flush, the
dead-letter queue), on a Redis emptied between rows. Rows:

- dedup floor: ``SET <prefix><uuid> 1 NX EX 86400`` per id, the least a 24 h
  idempotency window can cost.
- event, queued: an ``event`` accepted, not yet delivered.
- event, delivered: the same after a worker took and acknowledged it: what an event
  costs for the rest of its 24 h dedup window (the steady state; goal ≤ 150 B).
- profile, delivered: a profile update of a new user (uid, email, phone, three fields)
  accepted, flushed, delivered and acknowledged: its dedup key plus the saved profile
  state, kept 30 days (workers/profiles/buffer.py).
- dead letter: an ``event`` message given up on with a 400 from the platform.
- trace, delivered: the trace the workers keep of an event delivered at its first
  attempt (``taken`` and ``delivered``), beyond its dedup key, for TRACE_RETENTION_S.
- trace, retried once: the same for an event that failed once with a 503 first.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from webhook.intake.queue import EventQueue
from workers.ops.embedded_redis import EmbeddedRedis
from workers.platforms.errors import Rejected, ServerError
from workers.profiles.buffer import ProfileBuffer
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.layout import NAMESPACE
from workers.queue.policy import RetryPolicy
from workers.queue.retry import DeliveryPolicy
from workers.trace.trace import EventTrace

TIMESTAMP = "2026-11-23T10:00:00Z"
GOAL_BYTES = 150


def event(n: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": "event",
        "timestamp": TIMESTAMP,
        "user": {"uid": f"user-{n}"},
        "name": "purchase",
        "payload": {"order": n, "total": 19.99},
    }


def profile(n: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": "profile",
        "timestamp": TIMESTAMP,
        "user": {"uid": f"user-{n}", "email": f"user{n}@example.com", "phone": f"7916{n:07d}"},
        "fields": {"level": 7, "vip": True, "country": "DE"},
    }


def dedup_floor(client: redis.Redis, count: int) -> None:
    with client.pipeline(transaction=False) as pipe:
        for _ in range(count):
            pipe.set(f"hookrelay:seen:{uuid.uuid4()}", 1, nx=True, ex=86400)
        pipe.execute()


def events_queued(client: redis.Redis, count: int) -> None:
    queue = EventQueue(client)
    for start in range(0, count, 100):
        queue.submit([event(n) for n in range(start, min(count, start + 100))])


def events_delivered(client: redis.Redis, count: int) -> None:
    events_queued(client, count)
    acknowledge_all(client, "crm")


def profiles_delivered(client: redis.Redis, count: int) -> None:
    queue = EventQueue(client)
    for start in range(0, count, 100):
        queue.submit([profile(n) for n in range(start, min(count, start + 100))])
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=0)
    while buffer.flush():
        pass
    for data in client.hvals("dramatiq:crm.msgs"):  # each batch taken by the platform
        message = dramatiq.Message.decode(data)
        buffer.acknowledge(buffer.attempt(*message.args))
    acknowledge_all(client, "crm")
    buffer.flush()  # merges the acknowledgements


def dead_letters(client: redis.Redis, count: int) -> None:
    letters = DeadLetterQueue(client)
    error = Rejected(
        "unexpected answer",
        platform="crm",
        method="POST",
        url="https://crm.example.com/api/v1/events/",
        status=400,
        body='{"detail": "bad"}',
    )
    for n in range(count):
        message = dramatiq.Message("crm", "crm_post_event", (event(n),), {}, {})
        letters.add(message, reason="refused by crm (400)", error=error, attempts=1)


class NoActors:
    """A broker that knows no actor and takes any retry: enough for the policy."""

    def get_actor(self, name: str):
        raise dramatiq.errors.ActorNotFound(name)

    def enqueue(self, message, delay=None):
        return message


def traced(client: redis.Redis, count: int, *, failures: int) -> None:
    """What the delivery policy writes of ``count`` events, each failing ``failures``
    times before its delivery."""
    retry = RetryPolicy(min_backoff_ms=1000, max_backoff_ms=60_000, max_age_ms=86_400_000)
    policy = DeliveryPolicy(retry, dead_letters=None, trace=EventTrace(client, 7 * 86400))
    error = ServerError(
        "unexpected answer (expected 201)",
        platform="crm",
        method="POST",
        url="https://crm.example.com/api/v1/events/",
        status=503,
        body='{"detail": "Service unavailable"}',
    )
    broker = NoActors()
    logging.getLogger("workers.queue.retry").setLevel(logging.ERROR)
    for n in range(count):
        message = dramatiq.Message("crm", "crm_post_event", (event(n),), {}, {})
        for _ in range(failures):
            policy.before_process_message(broker, message)
            policy.after_process_message(broker, message, exception=error)
        policy.before_process_message(broker, message)
        policy.after_process_message(broker, message)


def acknowledge_all(client: redis.Redis, queue: str) -> None:
    """Take and acknowledge every message of ``queue``, as a worker does after delivery."""
    broker = RedisBroker(client=client, namespace=NAMESPACE, middleware=[])
    broker.declare_queue(queue)
    consumer = broker.consume(queue, prefetch=500, timeout=100)
    idle = 0
    while idle < 3:
        message = next(consumer)
        if message is None:
            idle += 1
            continue
        idle = 0
        consumer.ack(message)
    consumer.close()


ROWS: list[tuple[str, str, Callable[[redis.Redis, int], None]]] = [
    ("dedup floor (SET NX EX per id)", "id", dedup_floor),
    ("event, queued", "event", events_queued),
    ("event, delivered (steady state)", "event", events_delivered),
    ("profile, delivered", "profile", profiles_delivered),
    ("dead letter", "letter", dead_letters),
    ("trace, delivered", "event", lambda client, count: traced(client, count, failures=0)),
    ("trace, retried once", "event", lambda client, count: traced(client, count, failures=1)),
]


def measure(client: redis.Redis, write: Callable[[redis.Redis, int], None], count: int) -> float:
    client.execute_command("FLUSHALL", "SYNC")
    before = client.info("memory")["used_memory"]
    write(client, count)
    after = client.info("memory")["used_memory"]
    return (after - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="items per row")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="hr-footprint-"))
    server = EmbeddedRedis(directory, fsync="everysec")
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        results = [(name, unit, measure(client, write, args.count)) for name, unit, write in ROWS]
    finally:
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)
    floor = results[0][2]
    print(f"\nfootprint, {args.count:,} items per row, {os.cpu_count()} cores\n")
    print("| what | bytes per | bytes | vs dedup floor |")
    print("|---|---|---:|---:|")
    for name, unit, per_item in results:
        print(f"| {name} | {unit} | {per_item:,.0f} | {per_item / floor:.2f} |")
    steady = results[2][2]
    verdict = "meets" if steady <= GOAL_BYTES else "misses"
    print(f"\nan event in its dedup window: {steady:.0f} B ({verdict} the {GOAL_BYTES} B goal)")


if __name__ == "__main__":
    main()
