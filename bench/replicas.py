"""What ``REDIS_MIN_REPLICAS=1`` costs the receiver: single events and batches of 100
through ``POST /v1/events``, with and without waiting for a replica, side by side in
one run.

    python -m bench.replicas [--duration 5] [--rounds 3] [--processes 2] [--connections 16]

A primary and one replica (real servers on loopback, both ``appendfsync always``), three
``web`` servers with the Procfile's gunicorn settings on that primary: one without
``REDIS_MIN_REPLICAS``, two with 1 (the default 100 ms for the replica, and 1 s); no
worker. A request the replica did not confirm in time is a 503, counted as an error.
The variants take turns for ``--rounds`` rounds, so a slower minute of a shared
machine favours neither. The
replica is on the same machine: a real one adds the network's round trip to every
answer (``WAIT`` returns once the replica has the write in memory).
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack

from tests.topology import Topology

from .ingest import BODIES
from .load import Result, round_arguments, run_load, table_row
from .serve import gunicorn

VARIANTS = (
    ("no replica wait", {"REDIS_MIN_REPLICAS": "0"}),
    ("1 replica, 100 ms", {"REDIS_MIN_REPLICAS": "1"}),
    ("1 replica, 1000 ms", {"REDIS_MIN_REPLICAS": "1", "REDIS_REPLICA_TIMEOUT_MS": "1000"}),
)


def main() -> None:
    args = round_arguments(__doc__, connections=16)
    topology = Topology(replicas=1)
    url = f"redis://127.0.0.1:{topology.primary.port}/0"
    runs: dict[tuple[str, str], list[Result]] = {}
    load = {"processes": args.processes, "connections": args.connections}
    try:
        with ExitStack() as servers:
            served = {
                label: servers.enter_context(gunicorn("webhook:create_app()", url, **wait))
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
        online = topology.online_replicas()
    finally:
        topology.stop()
    print_table(runs, args, online)


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
