"""Ingest benchmark: accepted events/s of ``POST /v1/events``, side by side with an empty
Flask endpoint served by the same gunicorn settings, in one run.

    python -m bench.ingest [--duration 10] [--processes 2] [--connections 8]

Starts private embedded Redis servers, then for each server below the Procfile's
gunicorn configuration, and drives it with single events and with batches of 100. No
worker runs, so the queue only grows; every event id is unique, so nothing is a
duplicate. Rows:

- empty Flask 202: the baseline, an endpoint that does nothing.
- hookrelay: the receiver as shipped, on Redis with ``appendfsync always`` (``make run``).
- hookrelay, fsync everysec: the same on a Redis that fsyncs once a second.
- no Redis write: the receiver with the write stubbed out (diagnostic; see
  ``bench/no_write_app.py``), i.e. what auth, parsing and validation cost alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from workers.campaigns.schema import migrate
from workers.ops.embedded_redis import EmbeddedRedis
from workers.queue.routes import PROFILE_BUFFER

from .load import Result, http_request, run_load

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"
EVENT = (
    '{{"id": "b-{seq}-{i}", "type": "profile", "timestamp": "2026-11-23T10:00:00Z",'
    ' "user": {{"uid": "u{seq}", "email": "user{seq}@example.com"}},'
    ' "fields": {{"level": 7, "vip": true, "country": "DE"}}}}'
)
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


def single(seq: int) -> bytes:
    return http_request("/v1/events", EVENT.format(seq=seq, i=0).encode(), HEADERS)


def batch_of_100(seq: int) -> bytes:
    events = ",".join(EVENT.format(seq=seq, i=i) for i in range(100))
    return http_request("/v1/events", f'{{"events": [{events}]}}'.encode(), HEADERS)


@dataclass(frozen=True)
class Served:
    """A gunicorn serving on ``port``; ``pid`` is its master's."""

    port: int
    pid: int


@contextmanager
def gunicorn(app_spec: str, redis_url: str, **settings: str):
    """The receiver's gunicorn settings (see the Procfile) serving ``app_spec``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store_dir = tempfile.mkdtemp(prefix="hookrelay-bench-")
    env = {
        **os.environ,
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "HOOKRELAY_API_KEYS": API_KEY,
        "DATABASE_URL": f"sqlite:///{store_dir}/stats.db",
        **settings,
    }
    migrate(env["DATABASE_URL"])
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config",
        "python:webhook.gunicorn_conf",
        app_spec,
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        yield Served(port, process.pid)
    finally:
        process.terminate()
        process.wait(20)
        shutil.rmtree(store_dir, ignore_errors=True)


def _wait_for_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def measure(app_spec, redis_url, make_request, args) -> Result:
    with gunicorn(app_spec, redis_url) as server:
        port = server.port
        run_load(
            port, make_request, duration_s=1, processes=args.processes, connections=args.connections
        )  # warm-up
        return run_load(
            port,
            make_request,
            duration_s=args.duration,
            processes=args.processes,
            connections=args.connections,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--connections", type=int, default=16, help="connections per process")
    args = parser.parse_args()

    servers = {
        fsync: EmbeddedRedis(Path(tempfile.mkdtemp(prefix="hr-bench-")), fsync=fsync)
        for fsync in ("always", "everysec")
    }
    for server in servers.values():
        server.start()
    always, everysec = servers["always"].url, servers["everysec"].url
    variants = [
        ("empty Flask 202", "bench.empty_app:create_app()", always),
        ("hookrelay", "webhook:create_app()", always),
        ("hookrelay, fsync everysec", "webhook:create_app()", everysec),
        ("no Redis write (diagnostic)", "bench.no_write_app:create_app()", always),
    ]
    rows = []
    try:
        for label, size, make_request in (
            ("single event", 1, single),
            ("batch of 100", 100, batch_of_100),
        ):
            results = [
                (name, measure(spec, url, make_request, args)) for name, spec, url in variants
            ]
            rows.append((label, size, results))
        queued = redis.Redis.from_url(always).llen(f"{PROFILE_BUFFER}:pending")
    finally:
        for server in servers.values():
            server.stop()
            shutil.rmtree(server.directory, ignore_errors=True)
    print_table(rows, args, queued)


def print_table(rows, args, queued: int) -> None:
    print(
        f"\ningest, {os.cpu_count()} cores, {args.duration:.0f} s per scenario, "
        f"{args.processes}x{args.connections} keep-alive connections\n"
    )
    print("| body | server | requests/s | events/s | p50 ms | p99 ms | errors | vs empty |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, size, results in rows:
        empty = results[0][1]
        for name, result in results:
            ratio = result.rate / empty.rate
            print(
                f"| {label} | {name} | {result.rate:,.0f} | {result.rate * size:,.0f} | "
                f"{result.percentile(0.5):.1f} | {result.percentile(0.99):.1f} | "
                f"{result.errors} | {ratio:.0%} |"
            )
    print(f"\nprofile updates the shipped receiver left in Redis's buffer: {queued:,}")
    ratios = {
        label: round(results[1][1].rate / results[0][1].rate, 3) for label, _, results in rows
    }
    print("hookrelay / empty:", json.dumps(ratios))


if __name__ == "__main__":
    main()
