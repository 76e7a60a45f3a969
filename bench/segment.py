"""Segment-spec ingest benchmark: events/s through ``POST /v1/batch`` with 100-message
batches as the SDKs send them (plain and gzip), side by side with ``POST /v1/events``
batches of 100 on the same server, in one run.

    python -m bench.segment [--duration 10] [--processes 2] [--connections 16]

One embedded Redis with ``appendfsync always`` (as ``make run``), one ``web`` with the
Procfile's gunicorn settings, no worker. Every id is unique. The scenarios take turns
for ``--rounds`` rounds, each measured run on an emptied Redis, so neither a slower
minute of a shared machine nor the data an earlier scenario left favours one of them;
the ratio printed is the median of the rounds' ratios. The messages are
``identify`` calls as segment-analytics-python writes them (:func:`sdk_message`). The
reference row posts the very events they become to ``/v1/events`` (the same ids, users
and fields: :func:`same_events`), so the ratio is the cost of the Segment path alone;
the events of bench/ingest.py's batches, shorter ids among them, are the second row
(Redis's script costs about 10 % more per event with uuid-long ids, whatever the path).
The gzip bodies are compressed by the load generator as it sends each, as an SDK
does (on the same cores as the server, which the gzip row's rate pays for too).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import redis
from segment.analytics.client import Client

from workers.ops.embedded_redis import EmbeddedRedis

from .ingest import HEADERS, batch_of_100
from .load import Result, http_request, round_arguments, run_load, table_row
from .serve import Cpu, gunicorn, measure_cpu

WRITE_KEY = "bench-write-key"
APP = "webhook.app:create_app()"
SEGMENT_HEADERS = {
    "Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode(),
    "Content-Type": "application/json",
}


def sdk_message() -> str:
    """One ``identify`` as segment-analytics-python builds and writes it (with its
    ``context``, ``integrations`` and ``anonymousId``), as a :meth:`str.format`
    template of ``uid`` and ``message_id`` (the load generator shares the server's cores,
    so a body must cost it no more to build than a ``/v1/events`` one): the same
    profile as the ``/v1/events`` rows."""
    traits = {"email": "UID@example.com", "level": 7, "vip": True, "country": "DE"}
    _, message = Client(WRITE_KEY, send=False).identify(
        "UID", traits, timestamp=datetime(2026, 11, 23, 10, tzinfo=UTC), message_id="MESSAGE-ID"
    )
    text = json.dumps(message).replace("{", "{{").replace("}", "}}")
    return text.replace("UID", "{uid}").replace("MESSAGE-ID", "{message_id}")


MESSAGE = sdk_message()
ID_TAILS = [f"{i:012x}" for i in range(100)]


def _identities(seq: int) -> tuple[str, list[str]]:
    """The user of batch ``seq`` and its 100 message ids, shaped like the SDK's uuid4s."""
    prefix = f"{seq:08x}-0000-4000-8000-"
    return f"u{seq}", [prefix + tail for tail in ID_TAILS]


def segment_body(seq: int) -> bytes:
    """A batch of 100 as the SDK posts it (about 35 KB, over the 32 KB past which each
    message's own size is checked)."""
    uid, ids = _identities(seq)
    messages = ", ".join(MESSAGE.format(uid=uid, message_id=message_id) for message_id in ids)
    return (
        f'{{"batch": [{messages}], "sentAt": "2026-11-23T10:00:01.000000+00:00",'
        f' "writeKey": "{WRITE_KEY}"}}'
    ).encode()


#: What each message of :func:`segment_body` becomes, as a ``/v1/events`` event.
SAME_EVENT = (
    '{{"id": "{message_id}", "type": "profile", "timestamp": "2026-11-23T10:00:00+00:00",'
    ' "user": {{"uid": "{uid}", "email": "{uid}@example.com"}},'
    ' "fields": {{"level": 7, "vip": true, "country": "DE"}}}}'
)


def same_events(seq: int) -> bytes:
    """The 100 events :func:`segment_body` of ``seq`` is mapped to, posted to
    ``/v1/events``."""
    uid, ids = _identities(seq)
    events = ", ".join(SAME_EVENT.format(uid=uid, message_id=message_id) for message_id in ids)
    return http_request("/v1/events", f'{{"events": [{events}]}}'.encode(), HEADERS)


def segment_batch(seq: int) -> bytes:
    return http_request("/v1/batch", segment_body(seq), SEGMENT_HEADERS)


def segment_gzip(seq: int) -> bytes:
    headers = {**SEGMENT_HEADERS, "Content-Encoding": "gzip"}
    return http_request("/v1/batch", gzip.compress(segment_body(seq), 6), headers)


SCENARIOS = (
    ("/v1/events, the same 100 events", same_events),
    ("/v1/events, bench.ingest's batch of 100", batch_of_100),
    ("/v1/batch, 100 messages", segment_batch),
    ("/v1/batch, 100 messages, gzip", segment_gzip),
)


def main() -> None:
    args = round_arguments(__doc__, connections=16)
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="hr-bench-")), fsync="always")
    server.start()
    runs: dict[str, list[Result]] = {label: [] for label, _ in SCENARIOS}
    cpu = {label: Cpu() for label, _ in SCENARIOS}
    try:
        with gunicorn(
            "webhook.app:create_app()", server.url, HOOKRELAY_WRITE_KEYS=WRITE_KEY
        ) as served:
            load = {"processes": args.processes, "connections": args.connections}
            for _ in range(args.rounds):
                for label, make_request in SCENARIOS:
                    run_load(served.port, make_request, duration_s=1, **load)
                    redis.Redis.from_url(server.url).flushdb()
                    result = measure_cpu(
                        cpu[label],
                        served.pid,
                        server.process.pid,
                        100,
                        partial(
                            run_load, served.port, make_request, duration_s=args.duration, **load
                        ),
                    )
                    runs[label].append(result)
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)
    print_table(runs, args)
    print_cpu(cpu)


def print_table(runs: dict[str, list[Result]], args) -> None:
    print(
        f"\nSegment-spec ingest, {os.cpu_count()} cores, {args.rounds} rounds of "
        f"{args.duration:.0f} s per scenario, {args.processes}x{args.connections} keep-alive "
        "connections, Redis appendfsync always\n"
    )
    print("| body | requests/s | events/s | p50 ms | p99 ms | errors | vs /v1/events (median) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    reference = next(iter(runs.values()))
    ratios = {}
    for label, results in runs.items():
        row, ratio = table_row([label], results, reference, 100)
        ratios[label] = round(ratio, 3)
        print(row)
    print("vs /v1/events batches, median of the rounds:", json.dumps(ratios))


def print_cpu(cpu: dict[str, Cpu]) -> None:
    print(
        "\n| body | web CPU µs/event | Redis CPU µs/event | server CPU µs/event "
        "| vs /v1/events | load generator CPU µs/event |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    reference = next(iter(cpu.values()))
    baseline = reference.per_event_us(reference.web_s + reference.redis_s)
    for label, used in cpu.items():
        total = used.per_event_us(used.web_s + used.redis_s)
        print(
            f"| {label} | {used.per_event_us(used.web_s):.1f} | "
            f"{used.per_event_us(used.redis_s):.1f} | {total:.1f} | {baseline / total:.0%} | "
            f"{used.per_event_us(used.load_s):.1f} |"
        )


if __name__ == "__main__":
    main()
