"""What ``REDIS_MIN_REPLICAS=1`` costs: the receiver, single events and batches of 100
through ``POST /v1/events``; and the workers, who confirm each message's claim with the
replica before delivering it (workers/queue/claims.py). With and without waiting for a
replica, side by side in one run.

    python -m bench.replicas [--duration 5] [--rounds 3] [--processes 2] [--connections 16]

A primary and one replica (real servers on loopback, both ``appendfsync always``), three
``web`` servers with the Procfile's gunicorn settings on that primary: one without
``REDIS_MIN_REPLICAS``, two with 1 (the default 100 ms for the replica, and 1 s); no
worker. A request the replica did not confirm in time is a 503, counted as an error.
The variants take turns for ``--rounds`` rounds, so a slower minute of a shared
machine favours neither. The
replica is on the same machine: a real one adds the network's round trip to every
answer (``WAIT`` returns once the replica has the write in memory).

Delivery: the Procfile's ``web`` and two workers of 8 threads on the same primary and
the sandbox, with and without ``REDIS_MIN_REPLICAS=1`` (1 s for the replica), taking
turns; each round times a backlog of :data:`DELIVERY_EVENTS` events from the first
post until the last reaches the sandbox, with no platform limit in the way, for a
platform that answers at once and for one that takes 50 ms (a real one's order).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import redis

from tests.e2e.stack import Stack
from tests.e2e.test_procfile_stack import event_seqs, track_event
from tests.support import wait_for
from tests.topology import Topology

from .ingest import BODIES
from .load import Result, round_arguments, run_load, table_row
from .serve import gunicorn

VARIANTS = (
    ("no replica wait", {"REDIS_MIN_REPLICAS": "0"}),
    ("1 replica, 100 ms", {"REDIS_MIN_REPLICAS": "1"}),
    ("1 replica, 1000 ms", {"REDIS_MIN_REPLICAS": "1", "REDIS_REPLICA_TIMEOUT_MS": "1000"}),
)
DELIVERY_VARIANTS = (VARIANTS[0], VARIANTS[2])
DELIVERY_EVENTS = 3000
#: How long the sandbox takes to answer each event, in the delivery rows.
PLATFORM_DELAYS_S = (0.0, 0.05)


def main() -> None:
    args = round_arguments(__doc__, connections=16)
    topology = Topology(replicas=1)
    url = f"redis://127.0.0.1:{topology.primary.port}/0"
    runs: dict[tuple[str, str], list[Result]] = {}
    load = {"processes": args.processes, "connections": args.connections}
    try:
        with ExitStack() as servers:
            served = {
                label: servers.enter_context(gunicorn("webhook.app:create_app()", url, **wait))
                for label, wait in VARIANTS
            }
            for _ in range(args.rounds):
                for body, _, make_request in BODIES:
                    for label, server in served.items():
                        run_load(server.port, make_request, duration_s=1, **load)
                        result = run_load(
                            server.port, make_request, duration_s=args.duration, **load
                        )
                        runs.setdefault((body, label), []).append(result)
        delivered: dict[tuple[float, str], list[float]] = {}
        for _ in range(args.rounds):
            for delay_s in PLATFORM_DELAYS_S:
                for label, wait in DELIVERY_VARIANTS:
                    rate = delivery_rate(url, wait, delay_s)
                    delivered.setdefault((delay_s, label), []).append(rate)
        online = topology.online_replicas()
    finally:
        topology.stop()
    print_table(runs, args, online)
    print_delivery(delivered)


def delivery_rate(url: str, wait: dict[str, str], delay_s: float) -> float:
    """Events per second from a backlog of :data:`DELIVERY_EVENTS` to a sandbox that
    takes ``delay_s`` to answer each."""
    redis.Redis.from_url(url).flushall()
    with tempfile.TemporaryDirectory(prefix="hr-bench-") as log_dir:
        stack = Stack(
            Path(log_dir), None, workers=2, REDIS_URL=url, CRM_RATE_LIMIT="100000", **wait
        )
        try:
            stack.post_until_accepted([track_event(-1, "warm")])
            wait_for(lambda: event_seqs(stack.sandbox), timeout_s=60)
            if delay_s:
                stack.sandbox.fault("crm.events", delay_s=delay_s)
            started = time.monotonic()
            for first in range(0, DELIVERY_EVENTS, 100):
                stack.post_until_accepted([track_event(i, "d") for i in range(first, first + 100)])
            wait_for(
                lambda: len(event_seqs(stack.sandbox)) > DELIVERY_EVENTS,
                timeout_s=300,
                interval_s=0.05,
            )
            return DELIVERY_EVENTS / (time.monotonic() - started)
        finally:
            stack.stop()


def print_delivery(delivered: dict[tuple[float, str], list[float]]) -> None:
    print(
        f"\ndelivery of {DELIVERY_EVENTS} events, web + 2 workers of 8 threads, "
        "median of the rounds\n"
    )
    print("| platform answers in | workers | events/s | vs no wait |")
    print("|---|---|---:|---:|")
    for delay_s in PLATFORM_DELAYS_S:
        reference = statistics.median(delivered[(delay_s, DELIVERY_VARIANTS[0][0])])
        for label, _ in DELIVERY_VARIANTS:
            rate = statistics.median(delivered[(delay_s, label)])
            print(f"| {delay_s * 1000:.0f} ms | {label} | {rate:,.0f} | {rate / reference:.2f} |")


def print_table(runs: dict[tuple[str, str], list[Result]], args, online: int) -> None:
    print(
        f"\nreplica wait, {os.cpu_count()} cores, {args.rounds} rounds of "
        f"{args.duration:.0f} s, {args.processes}x{args.connections} keep-alive connections, "
        f"primary + {online} replica on loopback, appendfsync always\n"
    )
    print("| body | receiver | requests/s | events/s | p50 ms | p99 ms | errors | vs no wait |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    ratios = {}
    for body, size, _ in BODIES:
        reference = runs[(body, VARIANTS[0][0])]
        for label, _ in VARIANTS:
            row, ratio = table_row([body, label], runs[(body, label)], reference, size)
            ratios[f"{body}, {label}"] = round(ratio, 3)
            print(row)
    print("vs no replica wait, median of the rounds:", json.dumps(ratios))


if __name__ == "__main__":
    main()
