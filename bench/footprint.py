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
  attempt (``taken`` and ``delivered``), beyond its dedup key, until it moves to SQL.
- trace, retried once: the same for an event that failed once with a 503 first.

Then the move: the delivered traces moved to a SQLite store by the workers' own mover,
the bytes each costs there (the file, indexes included, after a checkpoint) and the
CPU the move takes per trace. Last, byte-days: what an event of daily traffic leaves in
Redis times the days it stays (goal ≤ 300), and what 10 M events a day hold in Redis
and in SQL at steady state.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from webhook.intake.queue import EventQueue
from workers.campaigns.schema import upgrade
from workers.campaigns.store import Store
from workers.ops.embedded_redis import EmbeddedRedis
from workers.platforms.errors import Rejected, ServerError
from workers.profiles.buffer import ProfileBuffer
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.layout import NAMESPACE
from workers.queue.policy import RetryPolicy
from workers.queue.retry import DeliveryPolicy
from workers.trace import mover
from workers.trace.archive import TraceArchive
from workers.trace.mover import TraceMover
from workers.trace.tail import KEY as TAIL_KEY
from workers.trace.trace import EventTrace

TIMESTAMP = "2026-11-23T10:00:00Z"
GOAL_BYTES = 150
GOAL_BYTE_DAYS = 300
DAY_S = 86_400
RETENTION_DAYS = 7
#: How long a settled trace stays in Redis at most, the mover keeping up: its delay,
#: then up to one interval until the next tick.
MOVE_S = mover.DELAY_MS / 1000 + mover.INTERVAL_S
DAILY = 10_000_000


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


def dedup_keys_left(client: redis.Redis, count: int) -> None:
    """An event delivered, without its share of the live tail (bounded on its own)."""
    events_delivered(client, count)
    client.delete(TAIL_KEY)


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
    ("event, delivered, live tail left out", "event", dedup_keys_left),
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


def moved_to_sql(client: redis.Redis, directory: Path, count: int) -> tuple[float, float]:
    """Bytes per trace in a SQLite store once the workers' mover moved ``count``
    delivered traces there, and the mover's CPU per trace (µs, this process: SQLite
    runs in it, Redis does not)."""
    client.execute_command("FLUSHALL", "SYNC")
    traced(client, count, failures=0)
    store = Store(f"sqlite:///{directory / 'stats.db'}")
    upgrade(store)
    before = sqlite_bytes(store)
    moving = TraceMover(client, TraceArchive(store.engine, RETENTION_DAYS * DAY_S), delay_ms=0)
    started = time.process_time()
    while moving.move():
        pass
    cpu_s = time.process_time() - started
    after = sqlite_bytes(store)
    store.dispose()
    return (after - before) / count, cpu_s / count * 1e6


def sqlite_bytes(store: Store) -> int:
    """The database file's size, its write-ahead log checkpointed into it."""
    with store.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
        return pages * connection.exec_driver_sql("PRAGMA page_size").scalar_one()


def print_byte_days(dedup: float, trace: float, sql_trace: float, move_us: float) -> None:
    """Byte-days of Redis per event of daily traffic, and 10 M events a day's steady state."""
    moved = dedup + trace * MOVE_S / DAY_S
    kept = dedup + trace * RETENTION_DAYS
    in_flight = DAILY / DAY_S * MOVE_S * trace
    print(f"\nper event of daily traffic, a trace kept {RETENTION_DAYS} days; 10 M events a day\n")
    print("| where traces are kept | Redis byte-days per event | Redis | SQL |")
    print("|---|---:|---:|---:|")
    print(
        f"| SQL, moved {MOVE_S:.0f} s after they settle | {moved:,.0f} | "
        f"{DAILY * dedup / 1e9 + in_flight / 1e9:.2f} GB | "
        f"{DAILY * RETENTION_DAYS * sql_trace / 1e9:.0f} GB |"
    )
    print(
        f"| Redis, {RETENTION_DAYS} days (before the move) | {kept:,.0f} | "
        f"{DAILY * kept / 1e9:.1f} GB | 0 |"
    )
    verdict = "meets" if moved <= GOAL_BYTE_DAYS else "misses"
    print(
        f"\n{moved:.0f} byte-days ({verdict} the {GOAL_BYTE_DAYS} goal); a trace in SQLite: "
        f"{sql_trace:.0f} B; the move: {move_us:.0f} µs of worker CPU per trace. "
        "The live tail is bounded apart (docs/footprint.md)."
    )


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
        sql_trace, move_us = moved_to_sql(client, directory, args.count)
    finally:
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)
    floor = results[0][2]
    print(f"\nfootprint, {args.count:,} items per row, {os.cpu_count()} cores\n")
    print("| what | bytes per | bytes | vs dedup floor |")
    print("|---|---|---:|---:|")
    for name, unit, per_item in results:
        print(f"| {name} | {unit} | {per_item:,.0f} | {per_item / floor:.2f} |")
    per_row = {name: per_item for name, _, per_item in results}
    dedup = per_row["event, delivered, live tail left out"]
    verdict = "meets" if dedup <= GOAL_BYTES else "misses"
    print(f"\nan event's dedup key: {dedup:.0f} B ({verdict} the {GOAL_BYTES} B goal)")
    print_byte_days(dedup, per_row["trace, delivered"], sql_trace, move_us)


if __name__ == "__main__":
    main()
