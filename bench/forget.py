"""Forget benchmark: how long one erasure takes with many other messages queued, side by
side with the floor (reading every queued message once, which any erasure of a queue
without a per-person index must do), and what the append-only file rewrite after it
costs.

    python -m bench.forget [--others 100000]

Starts a private embedded Redis (AOF, fsync always) and a SQLite store, accepts
``others`` events of other users through the receiver's own enqueue (in batches of
1,000), plus profile updates and dead letters of other users, then plants one person in
a few of each. Rows:

- floor: one pass over the queue's messages (HSCAN, every message decoded);
- erasure: :meth:`~workers.erasure.eraser.Eraser.carry_out` from a pending request to
  done, without the wait for every process to see the door (2 s in a deployment);
- AOF rewrite: ``BGREWRITEAOF`` of that dataset (fork, then the whole file written),
  as the worker asks for after an erasure (workers/erasure/aof.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import dramatiq
import redis

from schemas.identities import identity_key
from webhook.intake.queue import EventQueue
from workers.campaigns.schema import migrate
from workers.campaigns.store import Store
from workers.core.door import Door
from workers.erasure.eraser import Eraser
from workers.erasure.requests import ForgetRequests
from workers.ops.embedded_redis import EmbeddedRedis
from workers.queue.deadletters import DeadLetterQueue

TIMESTAMP = "2026-11-23T10:00:00Z"
PERSON = {"uid": "gone-1", "email": "gone@example.com"}
BATCH = 1000


def event(user: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": "event",
        "timestamp": TIMESTAMP,
        "user": user,
        "name": "purchase",
        "payload": {"sku": "A-1", "price": 10},
    }


def profile(user: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": "profile",
        "timestamp": TIMESTAMP,
        "user": user,
        "fields": {"level": 3},
    }


def fill(client: redis.Redis, others: int) -> None:
    """``others`` events of other users, 1,000 profile updates and dead letters of
    other users, and the person among them."""
    queue = EventQueue(client)
    for start in range(0, others, BATCH):
        batch = [event({"uid": f"user-{n}"}) for n in range(start, min(start + BATCH, others))]
        if start % (others // 10 or 1) == 0:
            batch.append(event(PERSON))
        queue.submit(batch)
    queue.submit([profile({"uid": f"user-{n}"}) for n in range(BATCH)] + [profile(PERSON)])
    letters = DeadLetterQueue(client)
    for user in [{"uid": f"user-{n}"} for n in range(BATCH)] + [PERSON]:
        message = dramatiq.Message("crm", "crm_post_event", (event(user),), {}, {})
        letters.add(message, reason="refused", error=ValueError("no"), attempts=1)


def floor_s(client: redis.Redis) -> float:
    started = time.perf_counter()
    for _, data in client.hscan_iter("dramatiq:crm.msgs", count=1000):
        dramatiq.Message.decode(data)
    return time.perf_counter() - started


def erasure_s(client: redis.Redis, database_url: str) -> tuple[float, dict]:
    door = Door(client, "bench-key")
    requests = ForgetRequests(client, door)
    request_id = requests.submit([identity_key("email", PERSON["email"])], suppress=True)
    eraser = Eraser(client, Store(database_url).engine, door, requests, settle_s=0)
    started = time.perf_counter()
    erased = eraser.carry_out(request_id)
    return time.perf_counter() - started, erased or {}


def rewrite_s(client: redis.Redis) -> tuple[float, float]:
    """The rewrite's own time and its fork's (seconds)."""
    started = time.perf_counter()
    client.bgrewriteaof()
    while True:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    return elapsed, client.info("stats")["latest_fork_usec"] / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--others", type=int, default=100_000)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="hr-forget-"))
    server = EmbeddedRedis(directory)
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        database_url = f"sqlite:///{directory / 'stats.db'}"
        migrate(database_url)
        fill(client, args.others)
        memory_mb = client.info("memory")["used_memory"] / 2**20
        floor = floor_s(client)
        took, erased = erasure_s(client, database_url)
        rewrite, fork = rewrite_s(client)
    finally:
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)
    print(
        f"\nforget, {args.others:,} other events queued, Redis {memory_mb:,.0f} MiB, "
        f"{os.cpu_count()} cores\n"
    )
    print("| what | seconds | vs floor |")
    print("|---|---:|---:|")
    print(f"| floor: read every queued message once | {floor:.2f} | 1.00 |")
    print(
        f"| erasure, request to done (+ 2 s for the door in a deployment) | {took:.2f} | "
        f"{took / floor:.2f} |"
    )
    print(f"| AOF rewrite after it (fork {fork * 1000:.0f} ms) | {rewrite:.2f} | — |")
    print(f"\nerased: {erased}")


if __name__ == "__main__":
    main()
