"""Delivery benchmark: how close to the platform's limit, how few calls, how fast.

    python -m bench.delivery [--rounds 3] [--drain-only]

Runs the real stack (embedded Redis, the sandbox, the Procfile's web and two workers
of 8 threads, started as the end-to-end tests start them) and prints:

- throughput while a backlog exists, against a platform limit of 50 req/s enforced by
  the sandbox (``CRM_RATE_LIMIT=50``): achieved rate / limit, and violations;
- API calls per 1,000 profile updates, for 10,000 updates of 1,000 users (10 each,
  shuffled times) and of 10,000 users (1 each);
- p50 / p99 delay from the receiver's ``202`` to the sandbox's receipt at low load
  (20 events/s), for events and for profiles (which wait for a flush);
- worker memory (RSS of each worker process tree) after the runs;
- CPU per delivered event: 4,000 events drained to a platform without a limit by one
  worker process of 8 threads, hookrelay's Procfile worker beside a bare Dramatiq
  actor posting each event with httpx and beside that actor doing the least Redis work
  hookrelay's guarantees need (the floor; bench/bare_actor.py), each on its own Redis;
  events per CPU-second of the worker's whole process tree (hookrelay's until the
  drained events' traces have moved to SQL, seconds after), and its RSS after. With
  ``--rounds N`` the three take turns N times and the table gives medians and ranges,
  the ratio to the bare actor taken round by round: one drain's CPU varies by tens of
  per cent from one minute to the next on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import redis

from tests.e2e.stack import running_stack
from tests.e2e.test_delivery_engine import platform_fields, shuffled_profile_updates
from tests.e2e.test_procfile_stack import track_event
from tests.support import temporary_redis, wait_for
from workers.ops.devstack import SANDBOX_LOGIN, SANDBOX_SECRET
from workers.trace.trace import SETTLED

from .bare_actor import Drain, bare_worker, drain_cpu
from .serve import process_tree, rss_mib

LIMIT = 50
#: Events each worker drains for the CPU comparison.
DRAIN = 4000
HOOKRELAY = "hookrelay"
BARE = "bare Dramatiq actor + httpx"
FLOOR = "the bare actor + the guarantees' least Redis work and a log line"


def backlog_throughput(stack) -> tuple[float, int, int]:
    stack.sandbox.limit("crm", LIMIT)
    total = 1500
    for start in range(0, total, 100):
        stack.post([track_event(i, "rate") for i in range(start, start + 100)])
    wait_for(
        lambda: len(stack.sandbox.accepted("crm.events")) >= total, timeout_s=120, interval_s=1
    )
    arrivals = sorted(r["at"] for r in stack.sandbox.received("crm.events"))
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    violations = stack.sandbox.violations("crm")
    stack.sandbox.reset()
    return rate, violations, len(arrivals)


def calls_per_1000_updates(stack, users: int, per_user: int, tag: str) -> float:
    updates, expected = shuffled_profile_updates(users=users, per_user=per_user, tag=tag)
    for start in range(0, len(updates), 100):
        stack.post(updates[start : start + 100])

    def all_newest() -> bool:
        stored = platform_fields(stack.sandbox)
        return all(stored.get(uid) == fields for uid, fields in expected.items())

    wait_for(all_newest, timeout_s=120, interval_s=1)
    calls = len(stack.sandbox.received("crm.users_batch"))
    stack.sandbox.reset()
    return calls / len(updates) * 1000


def low_load_delays(stack, kind: str, count: int = 100) -> list[float]:
    accepted_at = {}
    for i in range(count):
        event = track_event(i, f"lat-{kind}")
        if kind == "profile":
            event = {
                "id": f"lat-p{i}",
                "type": "profile",
                "timestamp": event["timestamp"],
                "user": {"uid": f"lat-{i}"},
                "fields": {"seq": i},
            }
        stack.post([event])
        accepted_at[i] = time.time()
        time.sleep(1 / 20)
    route = "crm.users_batch" if kind == "profile" else "crm.events"

    def arrivals():
        found = {}
        for request in stack.sandbox.accepted(route):
            bodies = request["body"] if kind == "profile" else [request["body"]]
            for body in bodies:
                seq = body["fields"]["seq"] if kind == "profile" else body["payload"]["seq"]
                found.setdefault(seq, request["at"])
        return found if len(found) >= count else None

    found = wait_for(arrivals, timeout_s=60, interval_s=0.5)
    stack.sandbox.reset()
    return sorted((found[i] - accepted_at[i]) * 1000 for i in range(count))


def worker_rss_mb(stack) -> list[float]:
    return [rss_mib(process_tree(worker.process.pid)) for worker in stack.workers]


def drains(rounds: int = 1) -> dict[str, list[Drain]]:
    """hookrelay's Procfile worker, the bare actor and the bare actor with the floor of
    the guarantees, each draining :data:`DRAIN` events to the same sandbox, without a
    rate limit, taking turns for ``rounds``."""
    found: dict[str, list[Drain]] = {HOOKRELAY: [], FLOOR: [], BARE: []}
    crm = (SANDBOX_LOGIN, SANDBOX_SECRET)
    with (
        tempfile.TemporaryDirectory(prefix="hr-bench-") as logs,
        running_stack(
            Path(logs), CRM_RATE_LIMIT="100000", WORKER_PROCESSES="1", WORKER_THREADS="8"
        ) as stack,
        temporary_redis("hr-bench-bare-") as bare_redis,
        temporary_redis("hr-bench-floor-") as floor_redis,
        bare_worker(bare_redis.url, f"{stack.sandbox.url}/crm", *crm) as bare,
        bare_worker(floor_redis.url, f"{stack.sandbox.url}/crm", *crm, guarded=True) as floor,
    ):
        stack.wait_for_workers()

        def delivered() -> int:
            return len(stack.sandbox.accepted("crm.events"))

        settled = redis.Redis.from_url(stack.redis.url)

        def traces_moved() -> bool:
            return settled.zcard(SETTLED) == 0

        def post_all(events: list[dict]) -> None:
            for start in range(0, DRAIN, 100):
                stack.post(events[start : start + 100])

        pid = stack.workers[0].process.pid
        for turn in range(rounds):
            events = [track_event(i, f"drain-{turn}") for i in range(DRAIN)]
            stack.sandbox.reset()
            found[HOOKRELAY].append(
                drain_cpu(pid, partial(post_all, events), delivered, DRAIN, settled=traces_moved)
            )
            lines = "".join(json.dumps(event) + "\n" for event in events)
            for name, (peer_pid, send) in ((FLOOR, floor), (BARE, bare)):
                stack.sandbox.reset()
                found[name].append(drain_cpu(peer_pid, partial(send, lines), delivered, DRAIN))
    return found


def print_drains(found: dict[str, list[Drain]]) -> None:
    bare = found[BARE]
    rounds = len(bare)
    print(
        f"\nworker CPU, {DRAIN} events drained, 1 process x 8 threads, no platform limit, "
        f"median of {rounds} round(s) taken in turns (range)\n"
    )
    print("| worker | events/s | events per worker CPU-second | vs bare | RSS (process tree) |")
    print("|---|---:|---:|---:|---:|")
    for name, runs in found.items():
        ratios = [
            run.per_cpu_second / other.per_cpu_second for run, other in zip(runs, bare, strict=True)
        ]
        print(
            f"| {name} | {_median([run.rate for run in runs], '.0f')} | "
            f"{_median([run.per_cpu_second for run in runs], '.0f')} | "
            f"{_median(ratios, '.2f')} | {runs[-1].rss_mib:.0f} MiB |"
        )


def _median(values: list[float], spec: str) -> str:
    middle = format(statistics.median(values), spec)
    if len(values) == 1:
        return middle
    return f"{middle} ({format(min(values), spec)} to {format(max(values), spec)})"


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="drains of each worker, in turns")
    parser.add_argument("--drain-only", action="store_true", help="only the CPU comparison")
    args = parser.parse_args()
    if not args.drain_only:
        delivery_table()
    print_drains(drains(args.rounds))


def delivery_table() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="hr-bench-") as logs,
        running_stack(
            Path(logs), workers=2, CRM_RATE_LIMIT=str(LIMIT), WORKER_THREADS="8"
        ) as stack,
    ):
        rate, violations, requests = backlog_throughput(stack)
        repeated = calls_per_1000_updates(stack, users=1000, per_user=10, tag="rep")
        distinct = calls_per_1000_updates(stack, users=10000, per_user=1, tag="one")
        events = low_load_delays(stack, "event")
        profiles = low_load_delays(stack, "profile")
        rss = worker_rss_mb(stack)

    print(
        "\ndelivery, 2 worker processes x 8 threads, PROFILE_FLUSH_MS 1000, PROFILE_BATCH_MAX 500\n"
    )
    print("| measure | value |")
    print("|---|---:|")
    print(
        f"| backlog throughput, limit {LIMIT}/s | {rate:.1f}/s ({rate / LIMIT:.0%} of the limit) |"
    )
    print(f"| platform rate-limit violations ({requests} requests) | {violations} |")
    print(f"| batch calls per 1,000 profile updates, 1,000 users x 10 | {repeated:.1f} |")
    print(f"| batch calls per 1,000 profile updates, 10,000 users x 1 | {distinct:.1f} |")
    for name, delays in (("event", events), ("profile", profiles)):
        print(
            f"| 202 -> platform, {name}, p50 / p99 at 20/s | "
            f"{statistics.median(delays):.0f} / {percentile(delays, 0.99):.0f} ms |"
        )
    print(f"| worker RSS (each process tree) | {', '.join(f'{mb:.0f} MiB' for mb in rss)} |")


if __name__ == "__main__":
    main()
