"""Pre-send hook benchmark: answers/s and latency of ``POST /v1/hooks/crm?stage=pre``,
side by side with an empty Flask endpoint served by the same gunicorn settings.

    python -m bench.hooks [--duration 10] [--rate 1000]

Everything runs on a private embedded Redis (``appendfsync always``) holding 1,000
suppressions. The hook runs its real work — Basic auth, parameters, the suppression
check — once with a frequency cap (set high enough never to refuse, so every call
does the full check-and-count, a write) and once without (a read only). Rows: the
most each can answer (closed loop), and p50/p99 at a paced ``--rate``.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import tempfile
from pathlib import Path

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


def measure(app_spec: str, redis_url: str, duration_s: float, rate, settings) -> Result:
    with gunicorn(app_spec, redis_url, **settings) as port:
        run_load(port, pre_hook, duration_s=1, processes=2, connections=16)
        return run_load(
            port, pre_hook, duration_s=duration_s, processes=2, connections=16, rate_per_s=rate
        )


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
                (name, measure(spec, server.url, args.duration, rate, settings))
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
    print("| load | server | answers/s | p50 ms | p99 ms | errors | vs empty |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, results in rows:
        empty = results[0][1]
        for name, result in results:
            print(
                f"| {label} | {name} | {result.rate:,.0f} | {result.percentile(0.5):.1f} | "
                f"{result.percentile(0.99):.1f} | {result.errors} | "
                f"{result.rate / empty.rate:.0%} |"
            )


if __name__ == "__main__":
    main()
