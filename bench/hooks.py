"""Hooks benchmark: answers/s and latency of ``POST /v1/hooks/crm``, pre-send and
post-send, side by side with an empty Flask endpoint served by the same gunicorn settings.

    python -m bench.hooks [--duration 3] [--rounds 5] [--rate 1000]

The hook runs its real work — Basic auth, parameters, the pre-send check — on a
private embedded Redis holding 1,000 suppressions:

- empty Flask: the baseline, an endpoint that answers ``{"allow": true}``.
- one EVALSHA, nothing else: the empty endpoint plus one read-only script call, the
  round trip a decision shared across processes needs (diagnostic; see
  ``bench/floor_app.py``), the most any such hook reaches here.
- frequency cap: every call does the full check-and-count, a write (the cap is set
  high enough never to refuse); the counts reach the append-only file in the gate's
  batches (webhook/gate/gate.py).
- suppressions only (the default, no ``FREQUENCY_CAP``): a read.
- post hook: counts the send for one campaign (every call the same campaign, as in a
  campaign's run) and checks its follow-up schedule.

Redis runs with ``appendfsync always``, as ``make run`` starts it.

Two loads: the most each can answer (closed loop), and a paced ``--rate``. All servers
run at once and take turns, ``--rounds`` slices of ``--duration`` each, so a slow
spell of a shared machine falls on all of them alike. "vs empty" is the median of the
per-round ratios, with their range; percentiles are over all rounds.

The server's CPU per answer (gunicorn's processes plus Redis) is printed beside the
rates: the load generator shares the two cores, so the closed-loop rate ratio
understates what a server on its own machine would do, while CPU per answer does not
depend on who else runs.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis

from webhook.gate.gate import PreSendGate
from workers.ops.embedded_redis import EmbeddedRedis

from .load import Result, http_request, percentile, run_load
from .serve import Served, cpu_seconds, gunicorn, process_tree

USER, PASSWORD = "bench", "hook-secret"
HEADERS = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
AUTH = {"HOOKRELAY_HOOK_USER": USER, "HOOKRELAY_HOOK_PASSWORD": PASSWORD}
WITH_CAP = {**AUTH, "FREQUENCY_CAP": "1000000"}


def pre_hook(seq: int) -> bytes:
    user = seq % 50_000
    query = f"stage=pre&campaign_id=9093&uid=u{user}&email=user{user}@example.com"
    return http_request(f"/v1/hooks/crm?{query}", b"", HEADERS)


def post_hook(seq: int) -> bytes:
    query = f"stage=post&campaign_id=9093&uid=u{seq}&email=user{seq}@example.com"
    return http_request(f"/v1/hooks/crm?{query}", b"", HEADERS)


#: name, WSGI app, settings, request
VARIANTS = (
    ("empty Flask", "bench.empty_app:create_app()", AUTH, pre_hook),
    ("one EVALSHA, nothing else (floor)", "bench.floor_app:create_app()", AUTH, pre_hook),
    ("pre hook, frequency cap", "webhook.app:create_app()", WITH_CAP, pre_hook),
    ("pre hook, suppressions only", "webhook.app:create_app()", AUTH, pre_hook),
    ("post hook", "webhook.app:create_app()", AUTH, post_hook),
)


@dataclass
class Measured:
    """One server's slices under one load."""

    results: list[Result] = field(default_factory=list)
    cpu_s: float = 0.0

    @property
    def answers(self) -> int:
        return sum(result.requests for result in self.results)

    @property
    def errors(self) -> int:
        return sum(result.errors for result in self.results)

    @property
    def rate(self) -> float:
        return statistics.median(result.rate for result in self.results)

    def percentile(self, q: float) -> float:
        return percentile([ms for result in self.results for ms in result.latencies_ms], q)

    @property
    def cpu_us_per_answer(self) -> float:
        return self.cpu_s / max(self.answers, 1) * 1e6


def measure_slice(
    served: Served, redis_server: EmbeddedRedis, make_request, duration_s, rate, into
):
    serving = [psutil.Process(redis_server.process.pid), *process_tree(served.pid)]
    before = cpu_seconds(serving)
    into.results.append(
        run_load(
            served.port,
            make_request,
            duration_s=duration_s,
            processes=2,
            connections=16,
            rate_per_s=rate,
        )
    )
    into.cpu_s += cpu_seconds(serving) - before


def start_redis(stack: ExitStack) -> EmbeddedRedis:
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="hr-bench-")))
    server.start()
    stack.callback(shutil.rmtree, server.directory, ignore_errors=True)
    stack.callback(server.stop)
    gate = PreSendGate(redis.Redis.from_url(server.url), cap=None)
    for i in range(1000):
        gate.suppress({"email": f"blocked{i}@example.com"}, "bench")
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per slice")
    parser.add_argument("--rounds", type=int, default=5, help="slices per server and load")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced requests/second")
    args = parser.parse_args()

    loads = (("as fast as possible", None), (f"paced {args.rate:,.0f}/s", args.rate))
    rows = {(load, name): Measured() for load, _ in loads for name, *_ in VARIANTS}
    with ExitStack() as stack:
        redis_server = start_redis(stack)
        servers = []
        for name, spec, settings, make_request in VARIANTS:
            served = stack.enter_context(gunicorn(spec, redis_server.url, **settings))
            run_load(served.port, make_request, duration_s=1, processes=2, connections=16)
            servers.append((name, served, make_request))
        for load, rate in loads:
            for _ in range(args.rounds):
                for name, served, make_request in servers:
                    measure_slice(
                        served, redis_server, make_request, args.duration, rate, rows[load, name]
                    )
    print_table(rows, loads, args)


def print_table(rows: dict, loads, args) -> None:
    print(
        f"\nhooks, {os.cpu_count()} cores, {args.rounds} rounds of "
        f"{args.duration:.0f} s per server, 2x16 keep-alive connections\n"
    )
    print(
        "| load | server | answers/s | p50 ms | p99 ms | errors | vs empty (range) "
        "| server CPU µs/answer | empty's CPU / this |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for load, _ in loads:
        empty = rows[load, VARIANTS[0][0]]
        for name, *_ in VARIANTS:
            this = rows[load, name]
            ratios = [a.rate / b.rate for a, b in zip(this.results, empty.results, strict=True)]
            print(
                f"| {load} | {name} | {this.rate:,.0f} | {this.percentile(0.5):.1f} | "
                f"{this.percentile(0.99):.1f} | {this.errors} | "
                f"{statistics.median(ratios):.0%} ({min(ratios):.0%}-{max(ratios):.0%}) | "
                f"{this.cpu_us_per_answer:.0f} | "
                f"{empty.cpu_us_per_answer / this.cpu_us_per_answer:.0%} |"
            )


if __name__ == "__main__":
    main()
