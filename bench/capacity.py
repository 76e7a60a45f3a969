"""How much of one Redis each of hookrelay's uses takes, and what splitting the
receiver's writes across two Redis primaries by user does to it.

    python -m bench.capacity [--count 20000] [--threads 8]

Redis runs its commands on one thread, so what bounds a deployment is the CPU time the
Redis process spends per item. This bench drives each use straight through hookrelay's
own classes (no HTTP: the receiver's processes scale out, Redis does not), on embedded
servers with ``appendfsync always``, and reads the server process's CPU time (user +
system) before and after each step. "Per Redis core" is what one fully busy Redis
thread would take at that cost; the achieved rate is on this machine, with the client
on the same cores. Rows:

- receiver: the enqueue script, for profile updates and events, in batches of 100 and
  one per request (``webhook/intake/queue.py``);
- profile flush: claiming, merging and committing the buffered updates of the first
  row into batches, then each batch's attempt and acknowledgement, per profile
  (``workers/profiles/buffer.py``);
- worker: fetching a queued message and acknowledging it, as a worker's consumer does
  (a delivered event's cost besides its platform call and its rate-limit check);
- hook decisions: the pre-send gate with a frequency cap, one recipient per call, and
  the send counts written back (``webhook/gate/gate.py``);
- two shards: the profile batches of the first row, each event sent to one of two
  servers by a hash of its user (what ``docs/scaling.md`` proposes), with each
  server's share of the CPU.

Memory per item is Redis's ``used_memory`` growth over the step, with everything still
queued (what it costs while waiting; what stays after delivery is bench/footprint.py's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import dramatiq
import psutil
import redis

from webhook.gate.gate import PreSendGate
from webhook.intake.queue import EventQueue
from workers.ops.embedded_redis import EmbeddedRedis
from workers.profiles.buffer import ProfileBuffer
from workers.queue.broker import SweepingRedisBroker
from workers.queue.layout import NAMESPACE
from workers.queue.routes import PROFILE_BATCH

TIMESTAMP = "2026-11-23T10:00:00Z"


@dataclass(frozen=True)
class Row:
    use: str
    items: int
    seconds: float
    cpu_s: float
    memory: int
    #: Each server's share of the CPU, where the step spread over several.
    shares: tuple[float, ...] = ()

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.items * 1e6


class Server:
    """An embedded server and its process, for CPU and memory readings."""

    def __init__(self, directory: Path) -> None:
        self.embedded = EmbeddedRedis(directory, fsync="always")
        self.embedded.start()
        self.process = psutil.Process(self.embedded.process.pid)
        self.client = redis.Redis.from_url(self.embedded.url)

    def cpu_s(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def memory(self) -> int:
        return self.client.info("memory")["used_memory"]

    def stop(self) -> None:
        self.embedded.stop()


def measured(use: str, items: int, servers: list[Server], step: Callable[[], object]) -> Row:
    cpu = [server.cpu_s() for server in servers]
    memory = sum(server.memory() for server in servers)
    started = time.perf_counter()
    step()
    seconds = time.perf_counter() - started
    spent = [server.cpu_s() - before for server, before in zip(servers, cpu, strict=True)]
    grown = sum(server.memory() for server in servers) - memory
    shares = tuple(s / sum(spent) for s in spent) if len(servers) > 1 else ()
    return Row(use, items, seconds, sum(spent), grown, shares)


def profile(n: int, tag: str) -> dict:
    return {
        "id": f"{tag}-p{n}",
        "type": "profile",
        "timestamp": TIMESTAMP,
        "user": {"uid": f"{tag}-u{n}", "email": f"{tag}-{n}@example.com"},
        "fields": {"level": n % 10, "vip": True, "country": "DE"},
    }


def event(n: int, tag: str) -> dict:
    return {
        "id": f"{tag}-e{n}",
        "type": "event",
        "timestamp": TIMESTAMP,
        "user": {"uid": f"{tag}-u{n}"},
        "name": "purchase",
        "payload": {"total": 12.5, "seq": n},
    }


def in_parallel(threads: int, jobs: Iterable[Callable[[], object]]) -> None:
    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(job) for job in jobs]:
            done.result()


def submitting(queue: EventQueue, events: list[dict], size: int, threads: int):
    batches = [events[i : i + size] for i in range(0, len(events), size)]
    return lambda: in_parallel(threads, (lambda b=b: queue.submit(b) for b in batches))


def flushing(buffer: ProfileBuffer, client: redis.Redis):
    """Flush until the buffer is empty, then attempt and acknowledge every batch."""

    def step() -> None:
        while buffer.flush():
            pass
        for raw in client.hvals(f"{NAMESPACE}:{PROFILE_BATCH.queue_name}.msgs"):
            message = dramatiq.Message.decode(raw)
            if message.actor_name != PROFILE_BATCH.actor_name:
                continue
            buffer.acknowledge(buffer.attempt(*message.args))

    return step


def consuming(client: redis.Redis, count: int, threads: int):
    """Fetch ``count`` messages of the ``crm`` queue as a worker does and acknowledge
    each (what every delivered event costs besides its platform call)."""

    def step() -> None:
        broker = SweepingRedisBroker(client=client, namespace=NAMESPACE, middleware=[])
        broker.declare_queue(PROFILE_BATCH.queue_name)
        consumer = broker.consume(PROFILE_BATCH.queue_name, prefetch=threads * 4)
        done = 0
        while done < count:
            message = next(consumer)
            if message is not None:
                consumer.ack(message)
                done += 1
        consumer.close()

    return step


def deciding(gate: PreSendGate, count: int, threads: int):
    def decide(start: int) -> None:
        for n in range(start, count, threads):
            gate.decide({"uid": f"hook-u{n % (count // 4)}"})

    def step() -> None:
        in_parallel(threads, (lambda s=s: decide(s) for s in range(threads)))
        gate.journal.flush()

    return step


def sharded(queues: list[EventQueue], events: list[dict], threads: int):
    """Each batch of 100 split by a hash of its user: one submit per shard it touches."""

    def shard_of(event: dict) -> int:
        return zlib.crc32(event["user"]["uid"].encode()) % len(queues)

    jobs = []
    for start in range(0, len(events), 100):
        parts: dict[int, list[dict]] = {}
        for item in events[start : start + 100]:
            parts.setdefault(shard_of(item), []).append(item)
        jobs += [lambda q=queues[s], p=p: q.submit(p) for s, p in parts.items()]
    return lambda: in_parallel(threads, jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="items per step")
    parser.add_argument("--threads", type=int, default=8, help="client threads")
    args = parser.parse_args()
    n, threads = args.count, args.threads
    root = Path(tempfile.mkdtemp(prefix="hr-capacity-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        one, *shards = servers = [Server(root / f"r{i}") for i in range(3)]
        for server in servers:
            stack.callback(server.stop)
        queue = EventQueue(one.client)
        buffer = ProfileBuffer(one.client, batch_max=500, flush_ms=0)
        gate = PreSendGate(one.client, cap=3)
        profiles = [profile(i, "a") for i in range(n)]
        rows = [
            measured(
                "receiver: profile updates, batches of 100",
                n,
                [one],
                submitting(queue, profiles, 100, threads),
            ),
            measured(
                "receiver: events, batches of 100",
                n,
                [one],
                submitting(queue, [event(i, "b") for i in range(n)], 100, threads),
            ),
            measured(
                "receiver: events, one per request",
                n // 4,
                [one],
                submitting(queue, [event(i, "c") for i in range(n // 4)], 1, threads),
            ),
            measured("profile flush, per profile", n, [one], flushing(buffer, one.client)),
            measured(
                "worker: fetch and acknowledge a message",
                n,
                [one],
                consuming(one.client, n, threads),
            ),
            measured("hook decisions, with a cap", n, [one], deciding(gate, n, threads)),
            measured(
                "two shards: profile updates, batches of 100",
                n,
                shards,
                sharded([EventQueue(s.client) for s in shards], profiles, threads),
            ),
        ]
    print_table(rows, args)


def print_table(rows: list[Row], args) -> None:
    print(
        f"\nRedis capacity, {os.cpu_count()} cores, {args.count:,} items per step, "
        f"{args.threads} client threads, appendfsync always\n"
    )
    print("| use | Redis CPU µs/item | per Redis core /s | achieved /s | bytes/item | split |")
    print("|---|---:|---:|---:|---:|---|")
    for row in rows:
        split = " / ".join(f"{share:.0%}" for share in row.shares) or "—"
        print(
            f"| {row.use} | {row.cpu_us:.1f} | {1e6 / row.cpu_us:,.0f} | "
            f"{row.items / row.seconds:,.0f} | {row.memory / row.items:,.0f} | {split} |"
        )


if __name__ == "__main__":
    main()
