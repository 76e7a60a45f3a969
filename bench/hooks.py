"""Pre-send hook benchmark: answers/s and latency of ``POST /v1/hooks/crm?stage=pre``,
side by side with an empty Flask endpoint served by the same gunicorn settings.

    python -m bench.hooks [--duration 10] [--rate 1000]

Everything runs on a private embedded Redis (``appendfsync always``) holding 1,000
suppressions. The hook runs its real work — Basic auth, parameters, the suppression
check — once with a frequency cap (set high enough never to refuse, so every call
does the full check-and-count, a write) and once without (a read only). Rows: the
most each can answer (closed loop), and p50/p99 at a paced ``--rate``.

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
import tempfile
from pathlib import Path

import psutil
import redis

from workers.embedded_redis import EmbeddedRedis
from workers.gate import SendGate

from .ingest import gunicorn
from .load import Result, http_request, run_load

USER, PASSWORD = "bench", "hook-secret"
HEADERS = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
AUTH = {"HOOKRELAY_HOOK_USER": USER, "HOOKRELAY_HOOK_PASSWORD": PASSWORD}
WITH_CAP = {**AUTH, "FREQUENCY_CAP": "1000000"}
VARIANTS = (
    ("empty Flask", "bench.empty_app:create_app()", AUTH),
    ("pre hook, frequency cap", "webhook:create_app()", WITH_CAP),
    ("pre hook, suppressions only", "webhook:create_app()", AUTH),
)


def pre_hook(seq: int) -> bytes:
    user = seq % 50_000
    query = f"stage=pre&campaign_id=9093&uid=u{user}&email=user{user}@example.com"
    return http_request(f"/v1/hooks/crm?{query}", b"", HEADERS)


def measure(app_spec, server: EmbeddedRedis, duration_s, rate, settings) -> tuple[Result, float]:
    """The load's result, and the server's CPU microseconds per answer."""
    with gunicorn(app_spec, server.url, **settings) as port:
        run_load(port, pre_hook, duration_s=1, processes=2, connections=16)
        serving = [psutil.Process(server.process.pid), *_gunicorn_processes()]
        before = _cpu_seconds(serving)
        result = run_load(
            port, pre_hook, duration_s=duration_s, processes=2, connections=16, rate_per_s=rate
        )
        return result, (_cpu_seconds(serving) - before) / max(result.requests, 1) * 1e6


def _gunicorn_processes() -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if "gunicorn" in " ".join(child.cmdline())
    ]


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced requests/second")
    args = parser.parse_args()

    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="hr-bench-")))
    server.start()
    rows = []
    try:
        gate = SendGate(redis.Redis.from_url(server.url), cap=None)
        for i in range(1000):
            gate.suppress({"email": f"blocked{i}@example.com"}, "bench")
        for label, rate in (
            ("as fast as possible", None),
            (f"paced {args.rate:,.0f}/s", args.rate),
        ):
            results = [
                (name, *measure(spec, server, args.duration, rate, settings))
                for name, spec, settings in VARIANTS
            ]
            rows.append((label, results))
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)
    print_table(rows, args)


def print_table(rows, args) -> None:
    print(
        f"\npre-send hooks, {os.cpu_count()} cores, {args.duration:.0f} s per scenario, "
        "2x16 keep-alive connections\n"
    )
    print(
        "| load | server | answers/s | p50 ms | p99 ms | errors | vs empty "
        "| server CPU µs/answer | empty's CPU / this |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, results in rows:
        _, empty, empty_cpu = results[0]
        for name, result, cpu in results:
            print(
                f"| {label} | {name} | {result.rate:,.0f} | {result.percentile(0.5):.1f} | "
                f"{result.percentile(0.99):.1f} | {result.errors} | "
                f"{result.rate / empty.rate:.0%} | {cpu:.0f} | {empty_cpu / cpu:.0%} |"
            )


if __name__ == "__main__":
    main()
