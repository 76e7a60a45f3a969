"""The Segment-spec messages' one path: read (msgspec from the bytes, or the usual parser
then a conversion, the same either way), mapped, validated as any event is."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from schemas.errors import one_line
from schemas.events import load_checked
from schemas.segment import (
    MAX_MESSAGE_BYTES,
    Batch,
    Dropped,
    Mapping,
    Message,
    in_segment_terms,
    to_event,
)
from webhook.api.bodies import parse_json
from webhook.api.segment import message_sizes

from .test_fast_events import JSON, TIMES

MESSAGE_VALUES = {
    "type": st.sampled_from(["identify", "track", "page", "screen", "group", "alias", "x"]),
    "messageId": st.text(max_size=205) | st.integers() | st.none() | JSON,
    "timestamp": TIMES | st.none(),
    "originalTimestamp": TIMES | st.none(),
    "userId": st.text(max_size=260) | st.integers() | st.none() | JSON,
    "anonymousId": st.text(max_size=8) | st.integers() | st.none(),
    "traits": st.dictionaries(st.sampled_from(["email", "phone", "plan", "a"]), JSON, max_size=3)
    | JSON,
    "context": st.fixed_dictionaries({}, optional={"traits": JSON, "device": JSON, "library": JSON})
    | JSON,
    "event": st.sampled_from(["Paid", "Campaign Started", "", "x" * 257]) | JSON,
    "properties": st.dictionaries(st.text(max_size=6), JSON, max_size=3) | JSON,
    "name": st.text(max_size=8) | st.none() | JSON,
    "groupId": st.text(max_size=8) | st.none() | st.integers(),
    "integrations": JSON,
}
MESSAGES = st.fixed_dictionaries(
    {"type": MESSAGE_VALUES["type"]},
    optional={key: value for key, value in MESSAGE_VALUES.items() if key != "type"},
)
#: Batch bodies as bytes (an infinite float written as a number out of range, as JSON
#: has no infinity), some written by hand where JSON readers differ.
BODIES = st.fixed_dictionaries(
    {"batch": st.lists(MESSAGES | JSON, max_size=3)},
    optional={"sentAt": TIMES | st.none(), "writeKey": JSON},
).map(lambda body: json.dumps(body).replace("Infinity", "1e400").encode())
SENT_AT = st.none() | st.datetimes(
    min_value=datetime(2026, 11, 1), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES)
@example(b'{"batch": [{"type": "track", "type": "identify", "messageId": "m"}]}')
@example(b'{"batch": [], "batch": [{"type": "identify", "messageId": "m", "userId": "u"}]}')
@example(b'{"batch": [{"type": "identify", "traits": {"n": 123456789012345678901234567890}}]}')
@example(b'{"batch": [{"type": "identify", "traits": {"n": 1e400}}, 7]}')
@example(b'{"batch": [{"type": "identify", "userId": "\\ud800"}, [1e400]]}')
@example(b'{"batch": [123456789012345678901234567890, {"context": {"traits": 1}}]}')
def test_both_readers_read_a_body_the_same_and_measure_each_message(body):
    payload, suspicious = parse_json(body)
    converted = msgspec.convert(payload, Batch)
    try:
        decoded = msgspec.json.decode(body, type=Batch)
    except msgspec.MsgspecError:
        pass  # the receiver reads it as converted
    else:
        assert decoded == converted
    padded = body[:-1] + b', "pad": "' + b"x" * MAX_MESSAGE_BYTES + b'"}'
    sizes = message_sizes(padded, suspicious)
    assert sizes is not None and len(sizes) == len(converted.batch)


def outcome(raw: dict, sent_at: datetime | None = None) -> dict | Dropped | str:
    """What the one path makes of a message: its event, Dropped, or the error line."""
    message = msgspec.convert(raw, Message)
    try:
        event = to_event(message, datetime.now(UTC), sent_at, Mapping())
        return event if isinstance(event, Dropped) else load_checked(event, check_values=True)
    except ValidationError as error:
        return one_line(in_segment_terms(error.messages))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES, SENT_AT)
@example({"type": "track", "messageId": 7, "userId": "u", "event": "E"}, None)
@example({"type": "identify", "userId": "u", "context": {"traits": [1]}}, None)
def test_any_message_is_an_event_dropped_or_refused_naming_its_field(raw, sent_at):
    answered = outcome(raw, sent_at)
    if isinstance(answered, str):
        field = answered.split(":", 1)[0]
        assert field.split(".")[0] in {*MESSAGE_VALUES, "_schema"} or field == "", answered
    elif isinstance(answered, dict):
        assert answered["type"] in ("profile", "event", "campaign_start")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"userId": "x" * 300}, "userId:"),
        ({"messageId": ["m"]}, "messageId:"),
        ({"event": None}, "event:"),
        ({"properties": {"a": float("inf")}}, "properties.a:"),
        ({"traits": {"email": "not an address"}}, "traits.email:"),
        ({"type": "identify", "context": {"traits": 5}}, "context.traits:"),
        ({"timestamp": "soon"}, "timestamp:"),
        ({"event": "Campaign Started", "properties": {"kind": "ab"}}, "properties.campaign_id:"),
        (
            {"event": "Campaign Started", "properties": {"campaign_id": 1, "segments": "7"}},
            "properties.segments:",
        ),
    ],
)
def test_a_refusal_names_the_message_s_field(change, named):
    track = {"type": "track", "messageId": "m", "userId": "u", "event": "Paid"}
    assert named in outcome({**track, **change}).split(" ")


def sdk_built() -> list[dict]:
    """An identify and a track as Segment's and RudderStack's clients build them, as
    JSON carries them."""
    segment = SegmentClient("k", send=False)
    rudder = RudderClient("k", host="http://127.0.0.1:1", send=False)
    built = [
        message
        for client in (segment, rudder)
        for message in (
            client.identify("u1", {"email": "a@example.com", "plan": "pro"})[1],
            client.track("u1", "Paid", {"total": 9.5})[1],
        )
    ]
    return json.loads(json.dumps(built, default=str))


def test_messages_as_the_real_sdks_build_them_become_the_events_they_mean():
    for message in sdk_built():
        event = outcome(message)
        assert isinstance(event, dict), event
        assert event["id"] == message["messageId"]
        if message["type"] == "identify":
            assert event["user"] == {"uid": "u1", "email": "a@example.com"}
            assert event["fields"] == {"plan": "pro"}
        else:
            assert (event["name"], event["payload"]) == ("Paid", {"total": 9.5})
