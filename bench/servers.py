"""Which server the receiver runs on: throughput and hostile clients, side by side in
one run, each candidate serving the real app (``webhook.app:create_app()``) in 2
processes on the same Redis (``appendfsync always``).

    python -m bench.servers [--duration 5] [--rounds 2]

- gunicorn, gevent, body read whole: what ``web`` runs (webhook/server.py).
- gunicorn, gthread, 16 threads: gunicorn's default threaded worker, for reference.
- waitress: reads each request whole in its event loop before a thread serves it;
  one process of its own, so here two on one socket (``bench/prefork_waitress.py``).
- Granian: Rust's hyper in front, the WSGI app on blocking threads.

waitress and Granian are no dependencies of hookrelay's: they are installed on first
use into a folder of the system's temporary directory, and reused after.

Throughput rows drive ``POST /v1/events`` with single events and batches of 100 (as
``bench.ingest``), the candidates taking turns for ``--rounds`` rounds. The hostile
rows, per candidate: how many of 10 ``/healthz`` calls (3 s timeout each) are answered
while 80 connections trickle a body after ``Expect: 100-continue``, 200 trickle their
head, or 80 trickle a body; and, of the malformed requests of ``bench/hostile.py`` sent
to ``/v1/events`` with a valid key and to the pre-send hook with valid credentials, how
many got a 5xx or more than one answer.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from pathlib import Path

import httpx
import redis

from workers.ops.embedded_redis import EmbeddedRedis

from .hostile import MALFORMED, Trickler, exchange, malformed_request
from .ingest import batch_of_100, single
from .load import Result, round_arguments, run_load, table_row
from .serve import API_KEY, ROOT, free_port, serving, store_env

PEERS = Path(tempfile.gettempdir()) / "hookrelay-bench-servers"
PEER_REQUIREMENTS = ("waitress>=3,<4", "granian>=2.5,<3")
HOOK_USER, HOOK_PASSWORD = "bench", "bench-secret"
BASIC = "Basic " + base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
HOOK = "/v1/hooks/crm?stage=pre&campaign_id=1&email=a@example.com"
APP = "webhook.app:create_app()"
BIN = Path(sys.executable).parent
CANDIDATES = {
    "gunicorn, gevent, body read whole (shipped)": lambda port: [
        str(BIN / "gunicorn"),
        "--config=python:webhook.gunicorn_conf",
        APP,
    ],
    "gunicorn, gthread, 16 threads": lambda port: [
        str(BIN / "gunicorn"),
        "--config=python:webhook.gunicorn_conf",
        "--worker-class=gthread",
        "--threads=16",
        APP,
    ],
    "waitress, 2 x 16 threads": lambda port: [
        sys.executable,
        "-m",
        "bench.prefork_waitress",
        str(port),
        "2",
        "16",
    ],
    "Granian, 2 x 16 blocking threads": lambda port: [
        sys.executable,
        "-m",
        "granian",
        "--interface=wsgi",
        "--workers=2",
        "--blocking-threads=16",
        f"--port={port}",
        "--no-ws",
        "--log-level=warning",
        "--factory",
        "webhook.app:create_app",
    ],
}
BODIES = (("single event", 1, single), ("batch of 100", 100, batch_of_100))
SLOW_LOADS = (("expect-continue", 80), ("head", 200), ("body", 80))


def ensure_peers() -> Path:
    """The folder waitress and Granian are installed into (on first use, from PyPI)."""
    stamp = PEERS / ".installed"
    if not stamp.exists():
        # No dependencies: those they have (click) are hookrelay's already.
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target"]
        pip.append(str(PEERS))
        subprocess.run([*pip, *PEER_REQUIREMENTS], check=True)
        stamp.touch()
    return PEERS


def main() -> None:
    args = round_arguments(__doc__, connections=8)
    peers = ensure_peers()
    redis_server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="hr-bench-")), fsync="always")
    redis_server.start()
    runs: dict[tuple[str, str], list[Result]] = {}
    hostile: dict[str, list[str]] = {}
    load = {"processes": args.processes, "connections": args.connections}
    try:
        with ExitStack() as stack:
            served = {
                name: stack.enter_context(serve(name, redis_server.url, peers))
                for name in CANDIDATES
            }
            for _ in range(args.rounds):
                for body, _, make_request in BODIES:
                    for name, server in served.items():
                        run_load(server.port, make_request, duration_s=1, **load)
                        redis.Redis.from_url(redis_server.url).flushall()
                        result = run_load(
                            server.port, make_request, duration_s=args.duration, **load
                        )
                        runs.setdefault((body, name), []).append(result)
            for name, server in served.items():
                hostile[name] = hostile_row(server.port)
    finally:
        redis_server.stop()
    print_tables(runs, hostile, args)


def serve(name: str, redis_url: str, peers: Path):
    port = free_port()
    env = {
        **store_env(port, redis_url),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(peers)]),
        "HOOKRELAY_HOOK_USER": HOOK_USER,
        "HOOKRELAY_HOOK_PASSWORD": HOOK_PASSWORD,
    }
    return serving(CANDIDATES[name](port), port, cwd=ROOT, env=env)


def hostile_row(port: int) -> list[str]:
    """The hostile cells of one candidate: healthz under each slow load, then the
    malformed requests answered badly."""
    cells = [f"{healthz_while_slow(port, kind, count)}/10" for kind, count in SLOW_LOADS]
    bad = 0
    for framing in MALFORMED:
        for target, credentials in (("/v1/events", f"Bearer {API_KEY}"), (HOOK, BASIC)):
            statuses = exchange(port, malformed_request(target, framing, credentials))
            bad += len(statuses) > 1 or any(status >= 500 for status in statuses)
    return [*cells, f"{bad}/{2 * len(MALFORMED)}"]


def healthz_while_slow(port: int, kind: str, count: int) -> int:
    trickler = Trickler(port, count, kind)
    answered = 0
    try:
        time.sleep(1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=3) as client:
            for _ in range(10):
                with suppress(httpx.HTTPError):
                    answered += client.get("/healthz").status_code == 200
    finally:
        trickler.stop()
    return answered


def print_tables(runs, hostile, args) -> None:
    names = list(CANDIDATES)
    print(
        f"\nservers, {os.cpu_count()} cores, {args.rounds} rounds of {args.duration:.0f} s, "
        f"{args.processes * args.connections} keep-alive connections\n"
    )
    print("| body | server | requests/s | events/s | p50 ms | p99 ms | errors | vs shipped |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for body, size, _ in BODIES:
        for name in names:
            row, _ = table_row([body, name], runs[(body, name)], runs[(body, names[0])], size)
            print(row)
    print(
        "\n| server | /healthz answered, 80 expect-continue trickling | 200 heads trickling "
        "| 80 bodies trickling | malformed: a 5xx or two answers |"
    )
    print("|---|---:|---:|---:|---:|")
    for name in names:
        print(f"| {name} | " + " | ".join(hostile[name]) + " |")


if __name__ == "__main__":
    main()
