"""Ingest benchmark: accepted events/s of ``POST /v1/events``, side by side with an empty
Flask endpoint served by the same gunicorn settings, in one run.

    python -m bench.ingest [--duration 5] [--rounds 3] [--processes 2] [--connections 8]

Starts private embedded Redis servers, then each server below with the Procfile's
gunicorn configuration, and drives them with single profile updates and with batches
of 100, of one user (as an app sends a user's updates) and of 100 users (as a
server-side SDK flushes its queue), 16 connections in all. No worker runs; every event
id is unique, so nothing is a duplicate. The variants take turns for ``--rounds``
rounds, each measured run on emptied Redis servers, so neither a slower minute of a
shared machine nor a fuller Redis favours one; the ratio printed is the median of the
rounds'. Rows:

- empty Flask 202: the baseline, an endpoint that does nothing.
- floor: the empty endpoint plus what a ``202`` that keeps hookrelay's promises needs
  at the least: each event's id read, its dedup key set (``SET NX EX``) and the body
  pushed once, fsync'd, in one script call (``bench/floor_app.py``). The most any
  receiver that keeps those promises reaches here; the last column is each row's rate
  against it.
- hookrelay: the receiver as shipped, on Redis with ``appendfsync always`` (``make run``).
- hookrelay, fsync everysec: the same on a Redis that fsyncs once a second.
- no Redis write: the receiver with the write stubbed out (diagnostic; see
  ``bench/no_write_app.py``), i.e. what auth, parsing and validation cost alone.
- hookrelay's checks + the floor's write: the receiver with the floor's write in place
  of its own (diagnostic, ``bench/no_write_app.py``): the ceiling of queueing a batch as
  one message.
- Flask + marshmallow + Celery ``send_task``: what users would write instead
  (``bench/celery_peer.py``, in a virtual environment of its own), on the same Redis.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import redis

from workers.ops.embedded_redis import EmbeddedRedis

from .celery_peer import peer_gunicorn
from .load import Result, http_request, median_ratio, round_arguments, run_load, table_row
from .serve import API_KEY, Cpu, gunicorn, measure_cpu

EVENT = (
    '{{"id": "b-{seq}-{i}", "type": "profile", "timestamp": "2026-11-23T10:00:00Z",'
    ' "user": {{"uid": "u{user}", "email": "user{user}@example.com"}},'
    ' "fields": {{"level": 7, "vip": true, "country": "DE"}}}}'
)
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


def single(seq: int) -> bytes:
    return http_request("/v1/events", EVENT.format(seq=seq, i=0, user=seq).encode(), HEADERS)


def batch_of_100(seq: int) -> bytes:
    return batch_body(EVENT.format(seq=seq, i=i, user=seq) for i in range(100))


def batch_of_100_users(seq: int) -> bytes:
    return batch_body(EVENT.format(seq=seq, i=i, user=f"{seq}-{i}") for i in range(100))


def batch_body(events) -> bytes:
    return http_request("/v1/events", f'{{"events": [{",".join(events)}]}}'.encode(), HEADERS)


BODIES = (
    ("single event", 1, single),
    ("batch of 100", 100, batch_of_100),
    ("batch of 100 users", 100, batch_of_100_users),
)


def main() -> None:
    args = round_arguments(__doc__, connections=8)
    redis_servers = {
        fsync: EmbeddedRedis(Path(tempfile.mkdtemp(prefix="hr-bench-")), fsync=fsync)
        for fsync in ("always", "everysec")
    }
    for server in redis_servers.values():
        server.start()
    always, everysec = redis_servers["always"], redis_servers["everysec"]
    variants = [
        ("empty Flask 202", always, "bench.empty_app:create_app()"),
        ("floor: per-id dedup + one fsync'd RPUSH", always, "bench.floor_app:create_app()"),
        ("hookrelay", always, "webhook.app:create_app()"),
        ("hookrelay, fsync everysec", everysec, "webhook.app:create_app()"),
        ("no Redis write (diagnostic)", always, "bench.no_write_app:create_app()"),
        (
            "hookrelay's checks + the floor's write (diagnostic)",
            always,
            "bench.no_write_app:create_floor_write_app()",
        ),
        ("Flask + marshmallow + Celery send_task", always, None),
    ]
    runs: dict[tuple[str, str], list[Result]] = {}
    cpu: dict[tuple[str, str], Cpu] = {}
    load = {"processes": args.processes, "connections": args.connections}
    try:
        with ExitStack() as stack:
            served = {
                name: (stack.enter_context(serve(spec, store.url)), store)
                for name, store, spec in variants
            }
            for _ in range(args.rounds):
                for body, size, make_request in BODIES:
                    for name, (server, store) in served.items():
                        run_load(server.port, make_request, duration_s=1, **load)
                        for redis_server in redis_servers.values():
                            redis.Redis.from_url(redis_server.url).flushall()
                        result = measure_cpu(
                            cpu.setdefault((body, name), Cpu()),
                            server.pid,
                            store.process.pid,
                            size,
                            partial(
                                run_load,
                                server.port,
                                make_request,
                                duration_s=args.duration,
                                **load,
                            ),
                        )
                        runs.setdefault((body, name), []).append(result)
            names = list(served)
    finally:
        for server in redis_servers.values():
            server.stop()
            shutil.rmtree(server.directory, ignore_errors=True)
    print_table(runs, names, args)
    print_cpu(cpu, names)


def print_table(runs: dict[tuple[str, str], list[Result]], names: list[str], args) -> None:
    print(
        f"\ningest, {os.cpu_count()} cores, {args.rounds} rounds of {args.duration:.0f} s per "
        f"variant, {args.processes * args.connections} keep-alive connections "
        f"({args.processes} processes), each run on an emptied Redis\n"
    )
    print(
        "| body | server | requests/s | events/s | p50 ms | p99 ms | errors | vs empty | vs floor |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    ratios = {}
    for body, size, _ in BODIES:
        for name in names:
            row, _ = table_row([body, name], runs[(body, name)], runs[(body, names[0])], size)
            floor = median_ratio(runs[(body, name)], runs[(body, names[1])])
            ratios[f"{body}: {name}"] = round(floor, 3)
            print(f"{row} {floor:.0%} |")
    print("vs floor, median of the rounds:", json.dumps(ratios))


def serve(spec: str | None, redis_url: str):
    """The receiver's gunicorn serving ``spec``; ``None`` is the Celery-style peer."""
    return gunicorn(spec, redis_url) if spec else peer_gunicorn(redis_url)


def print_cpu(cpu: dict[tuple[str, str], Cpu], names: list[str]) -> None:
    print(
        "\n| body | server | web CPU µs/event | Redis CPU µs/event | server CPU µs/event "
        "| load generator CPU µs/event |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for body, _, _ in BODIES:
        for name in names:
            used = cpu[(body, name)]
            print(
                f"| {body} | {name} | {used.per_event_us(used.web_s):.1f} | "
                f"{used.per_event_us(used.redis_s):.1f} | "
                f"{used.per_event_us(used.web_s + used.redis_s):.1f} | "
                f"{used.per_event_us(used.load_s):.1f} |"
            )


if __name__ == "__main__":
    main()
