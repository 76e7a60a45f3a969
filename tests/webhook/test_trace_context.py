"""A caller's W3C ``traceparent`` kept with its events: in each queued message and
buffered update, shown in the event's trace, carried in its attempts' log lines; an
invalid one ignored."""

from __future__ import annotations

import json
import logging

import pytest
import redis

from webhook.tracecontext import parse
from workers.core.logs import Masked
from workers.profiles.buffer import ProfileBuffer
from workers.queue.routes import DEDUP_PREFIX, DEDUP_TTL_S
from workers.trace.reader import TraceReader
from workers.trace.trace import EventTrace

from ..workers.test_trace import Broker, setup
from .test_events import AUTH, buffered, post, profile, queued, track

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (TRACEPARENT, TRACEPARENT),
        (f" {TRACEPARENT} ", TRACEPARENT),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later", TRACEPARENT),
        (TRACEPARENT.upper(), None),
        (f"{TRACEPARENT}-extra", None),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),
        (f"00-4bf92f3577b34da6a3ce929d0e0e4736-{'0' * 16}-01", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_only_a_valid_traceparent_is_kept(header, kept):
    assert parse(header) == kept


def test_it_goes_with_every_event_of_the_request(client, redis_url):
    headers = {**AUTH, "traceparent": TRACEPARENT}
    assert (
        post(client, {"events": [track("t1"), profile("p1")]}, headers=headers).status_code == 202
    )
    [message] = queued(redis_url)
    assert message.options["traceparent"] == TRACEPARENT
    [update] = buffered(redis_url)
    assert update["traceparent"] == TRACEPARENT
    post(client, track("t2"), headers={**AUTH, "traceparent": "nonsense"})
    later = queued(redis_url)[-1]
    assert "traceparent" not in later.options, "an invalid one is ignored, the event kept"


def test_the_trace_and_the_log_lines_of_its_attempts_name_it(redis_url, caplog, trace_archive):
    client = redis.Redis.from_url(redis_url)
    policy, reader, message = setup(client, trace_archive)
    message = message.copy(options={"traceparent": TRACEPARENT})
    with caplog.at_level(logging.INFO, logger="workers.queue.retry"):
        policy.before_process_message(Broker(), message)
        policy.after_process_message(Broker(), message)
    shown = reader.show("ev-1")
    assert shown.traceparent == TRACEPARENT and "traceparent" not in shown.attempts[0]
    [line] = [record for record in caplog.records if getattr(record, "outcome", None)]
    assert json.loads(Masked(as_json=True).format(line))["traceparent"] == TRACEPARENT


def test_a_profile_updates_trace_names_it_once_batched(client, redis_url, trace_archive):
    post(client, profile("p1"), headers={**AUTH, "traceparent": TRACEPARENT})
    connection = redis.Redis.from_url(redis_url)
    trace = EventTrace(connection, 3600)
    ProfileBuffer(connection, batch_max=500, flush_ms=1000, trace=trace).flush()
    reader = TraceReader(
        connection, trace_archive, dedup_prefix=DEDUP_PREFIX, dedup_ttl_s=DEDUP_TTL_S
    )
    assert reader.show("p1").traceparent == TRACEPARENT
