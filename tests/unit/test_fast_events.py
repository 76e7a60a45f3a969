"""The fast path of load_event answers only where the schema answers the same."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from schemas.events import load_by_schema
from schemas.fast import fast_event, stored_time
from schemas.segment import (
    BATCH,
    MESSAGE,
    Mapping,
    _plain_batch,
    _plain_message,
    corrected_time,
    load_batch,
    message_id,
    to_event,
)
from schemas.segment_fast import (
    decode_batch,
    decoded_event,
    plain_event,
)
from schemas.values import unsendable
from webhook.api.bodies import parse_json

from .test_event_schemas import CAMPAIGN, PROFILE, TRACK

JSON_LEAVES = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
OFFSETS = [timedelta(hours=2), timedelta(hours=-9, minutes=-30)]
AWARE_ZONES = st.sampled_from([UTC, *map(timezone, OFFSETS)])
ZONES = AWARE_ZONES | st.none()
TIMES = st.one_of(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2026, 11, 1), timezones=ZONES
    ).map(datetime.isoformat),
    st.sampled_from(
        ["2026-11-23T10:00:00Z", "2026-11-23 10:00:00+03:00", "2026-11-23", "soon", ""]
    ),
    JSON,
)
#: Addresses and near-addresses: a part that is wrong next to one that is right.
EMAILS = st.one_of(
    st.emails(),
    st.text(max_size=12),
    st.just("A@Example.COM"),
    st.builds(
        "{}@{}".format,
        st.text(max_size=6) | st.sampled_from(["a.b", "a..b", '"a b"', "ü"]),
        st.text(max_size=6) | st.sampled_from(["example.com", "localhost", "-x.com", "ü.de"]),
    ),
)
USERS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "uid": st.text(max_size=260) | st.integers() | JSON,
            "email": EMAILS,
            "phone": st.from_regex(r"\+?[0-9]{3,22}", fullmatch=True) | st.text(max_size=8),
            "wp_token": st.text(max_size=12) | JSON,
            "nickname": st.text(max_size=4),
        },
    ),
    JSON,
)
EVENTS = st.fixed_dictionaries(
    {
        "id": st.text(max_size=205) | st.integers() | JSON,
        "type": st.sampled_from(["profile", "event", "campaign_start", "purchase"]) | JSON,
        "timestamp": TIMES,
        "user": USERS,
    },
    optional={
        "fields": st.dictionaries(st.text(max_size=258), JSON, max_size=3) | JSON,
        "unsubscribe": st.booleans() | JSON,
        "name": st.text(max_size=258) | JSON,
        "payload": st.dictionaries(st.text(max_size=4), JSON, max_size=3) | JSON,
        "campaign": JSON,
        "colour": JSON,
    },
)


AWARE = st.datetimes(
    datetime(2000, 1, 1),
    datetime(2026, 11, 1),
    timezones=st.sampled_from([UTC, *map(timezone, OFFSETS)]),
)
VALID_USERS = st.fixed_dictionaries(
    {},
    optional={
        "uid": st.text(min_size=1, max_size=256),
        "email": st.emails(),
        "phone": st.from_regex(r"\+?[0-9]{5,20}", fullmatch=True),
        "wp_token": st.text(min_size=1, max_size=40),
    },
).filter(bool)
COMMON = {
    "id": st.text(min_size=1, max_size=200),
    "timestamp": AWARE.map(datetime.isoformat) | st.just("2026-11-23T10:00:00Z"),
    "user": VALID_USERS,
}
VALID = st.fixed_dictionaries(
    {**COMMON, "type": st.just("profile")},
    optional={
        "fields": st.dictionaries(st.text(min_size=1, max_size=20), JSON, max_size=4),
        "unsubscribe": st.booleans(),
    },
) | st.fixed_dictionaries(
    {**COMMON, "type": st.just("event"), "name": st.text(min_size=1, max_size=256)},
    optional={"payload": st.dictionaries(st.text(max_size=8), JSON, max_size=4)},
)
REMOVE = object()
KEYS = ["id", "type", "timestamp", "user", "fields", "unsubscribe", "name", "payload", "colour"]


@st.composite
def mutated(draw) -> dict:
    """A valid event with one key set to anything, or removed."""
    event = draw(VALID)
    key = draw(st.sampled_from(KEYS))
    value = draw(st.just(REMOVE) | JSON | TIMES | USERS)
    if value is REMOVE:
        event.pop(key, None)
    else:
        event[key] = value
    return event


@st.composite
def odd_identifier(draw) -> dict:
    """A valid event with one identifier of its user set to any short text."""
    event = draw(VALID)
    kind = draw(st.sampled_from(["uid", "email", "phone", "wp_token"]))
    event["user"] = {**event["user"], kind: draw(st.text(max_size=24) | st.emails())}
    return event


def by_schema(data):
    try:
        return load_by_schema(copy.deepcopy(data))
    except ValidationError:
        return None


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(VALID | mutated() | odd_identifier() | EVENTS)
@example(PROFILE)
@example(TRACK)
@example({**PROFILE, "unsubscribe": 1})
@example({**TRACK, "user": {"uid": 42}})
@example({**TRACK, "user": {"email": "not-an-email"}})
@example({**TRACK, "user": {"email": "not an@example.com"}})
@example({**TRACK, "user": {"email": "user@localhost"}})
@example({**TRACK, "user": {"email": "user@-x.com"}})
def test_whenever_the_fast_path_answers_the_schema_answers_the_same(data):
    fast = fast_event(copy.deepcopy(data))
    if fast is not None:
        assert by_schema(data) == fast


def test_the_common_events_take_the_fast_path_and_the_rest_do_not():
    assert fast_event(PROFILE) == by_schema(PROFILE)
    assert fast_event(TRACK) == by_schema(TRACK)
    assert fast_event(CAMPAIGN) is None
    assert fast_event({**TRACK, "user": {"uid": 42}}) is None, "a number as a uid: the schema's"
    assert fast_event({**TRACK, "timestamp": "2026-11-23T10:00:00"}) is None


MESSAGE_VALUES = {
    "type": st.sampled_from(["identify", "track", "page", "screen", "group", "alias", "x"]),
    "messageId": st.text(max_size=205) | st.integers() | st.none(),
    "timestamp": TIMES | st.none(),
    "originalTimestamp": TIMES | st.none(),
    "userId": st.text(max_size=260) | st.integers() | st.none() | JSON,
    "anonymousId": st.text(max_size=8) | st.integers() | st.none(),
    "traits": st.dictionaries(st.text(max_size=6), JSON, max_size=3) | JSON,
    "context": st.dictionaries(st.text(max_size=6), JSON, max_size=3) | JSON,
    "event": st.text(max_size=260) | JSON,
    "properties": st.dictionaries(st.text(max_size=6), JSON, max_size=3) | JSON,
    "name": st.text(max_size=8) | st.none() | JSON,
    "groupId": st.text(max_size=8) | st.none() | st.integers(),
    "previousId": st.text(max_size=8) | st.none() | st.integers(),
    "integrations": JSON,
}
MESSAGES = st.fixed_dictionaries(
    {"type": MESSAGE_VALUES["type"]},
    optional={key: value for key, value in MESSAGE_VALUES.items() if key != "type"},
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES | JSON)
@example({"type": "track", "messageId": 7, "event": "E"})
@example({"type": "identify", "timestamp": "2026-11-23T10:00:00", "traits": {}})
def test_whenever_a_plain_message_is_loaded_fast_the_schema_loads_the_same(raw):
    fast = _plain_message(copy.deepcopy(raw))
    if fast is not None:
        assert MESSAGE.load(copy.deepcopy(raw)) == fast


BATCHES = st.fixed_dictionaries(
    {},
    optional={
        "batch": st.lists(MESSAGES | JSON, max_size=3) | JSON,
        "sentAt": TIMES | st.none(),
        "writeKey": st.text(max_size=8) | st.none() | JSON,
        "context": JSON,
    },
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(BATCHES | JSON)
@example({"batch": [], "sentAt": "2026-11-23T10:00:00"})
@example({"batch": [], "writeKey": 7})
@example({"batch": [{"type": "track"}], "sentAt": "2026-11-23T10:00:00Z", "writeKey": "k"})
def test_whenever_a_plain_batch_is_read_fast_the_schema_reads_the_same(raw):
    fast = _plain_batch(copy.deepcopy(raw))
    if fast is not None:
        loaded = BATCH.load(copy.deepcopy(raw))
        assert (loaded["batch"], loaded.get("sentAt")) == fast


def test_an_sdk_batch_takes_the_fast_path():
    sdk_batch = {"batch": [{"type": "track"}], "sentAt": "2026-11-23T10:00:00.123Z"}
    assert _plain_batch(sdk_batch) == (
        [{"type": "track"}],
        datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC),
    )
    assert _plain_batch({"batch": [], "sentAt": "yesterday"}) is None


SDK_TIMES = st.sampled_from(
    ["2026-11-23T10:00:00.000+00:00", "2026-11-20T08:00:00.5-09:30", "1999-12-31T23:59:59Z"]
)
TRAIT_VALUES = st.emails() | st.sampled_from(["not-an-email", "+4915112345678", 7, None])
PLAIN_TRAITS = st.dictionaries(
    st.sampled_from(["email", "phone", "plan", "x" * 257]),
    TRAIT_VALUES | st.dictionaries(st.sampled_from(["city", ""]), TRAIT_VALUES, max_size=2),
    max_size=3,
)
#: Messages as SDKs send them, each field nearly always of the plain kind, so that
#: most of them take the one-pass path and its every check is tried.
SDK_MESSAGES = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["identify", "track"]),
        "messageId": st.text(min_size=1, max_size=4),
        "timestamp": SDK_TIMES,
        "userId": st.sampled_from(["u1", "u2", "u3", "u4", "u5", "", "x" * 257, None]),
    },
    optional={
        "originalTimestamp": SDK_TIMES,
        "traits": PLAIN_TRAITS,
        "context": st.fixed_dictionaries(
            {}, optional={"traits": PLAIN_TRAITS, "device": st.just({"token": "t"})}
        ),
        "event": st.sampled_from(["Paid", "Signed Up", "Campaign Started", "", "x" * 257]),
        "properties": st.dictionaries(st.text(max_size=4), JSON, max_size=3),
    },
)
SENT_AT = st.none() | st.datetimes(
    min_value=datetime(2026, 11, 1), max_value=datetime(2026, 11, 30), timezones=AWARE_ZONES
)


def mapped_the_long_way(raw, received_at, sent_at, mapping):
    """What the receiver made of a message before the one-pass path: read by the
    schema, time corrected, mapped, validated by the event schema."""
    message = MESSAGE.load(raw)
    when = stored_time(corrected_time(message, received_at, sent_at))
    event_id = message_id(raw, message.get("messageId"))
    event = to_event(message, event_id, when, mapping)
    return load_by_schema(event)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(SDK_MESSAGES | MESSAGES, SENT_AT)
@example(
    {"type": "identify", "messageId": "m", "userId": "u", "traits": {"email": "a@example.com"}},
    None,
)
@example({"type": "track", "messageId": "m", "userId": "u", "event": "Paid"}, None)
@example({"type": "track", "messageId": "m", "userId": "u", "event": "Campaign Started"}, None)
@example({"type": "identify", "messageId": "m", "userId": "u", "traits": {"x" * 257: 1}}, None)
def test_whenever_a_message_is_mapped_in_one_pass_the_long_way_maps_it_the_same(raw, sent_at):
    received_at, mapping = datetime.now(UTC), Mapping()
    fast = plain_event(copy.deepcopy(raw), received_at, sent_at, mapping)
    if fast is not None:
        assert mapped_the_long_way(copy.deepcopy(raw), received_at, sent_at, mapping) == fast


def test_an_sdk_identify_and_track_are_mapped_in_one_pass():
    now = datetime.now(UTC)
    identify = {
        "type": "identify",
        "messageId": "m1",
        "userId": "u1",
        "timestamp": "2026-11-23T10:00:00.000+00:00",
        "traits": {"email": "a@example.com", "plan": "pro", "address": {"city": "Berlin"}},
        "context": {"library": {"name": "analytics-python"}, "device": {"token": "t1"}},
    }
    track = {**identify, "type": "track", "event": "Paid", "properties": {"total": 9}}
    for message in (identify, track):
        assert plain_event(message, now, None, Mapping()) == mapped_the_long_way(
            message, now, None, Mapping()
        )
    campaign = {**track, "event": "Campaign Started"}
    assert plain_event(campaign, now, None, Mapping()) is None
    assert plain_event({**identify, "messageId": None}, now, None, Mapping()) is None


def sdk_built() -> list[list[dict]]:
    """An identify and a track as Segment's and RudderStack's clients build them, one
    list per client, as JSON carries them."""
    segment = SegmentClient("k", send=False)
    rudder = RudderClient("k", host="http://127.0.0.1:1", send=False)
    built = [
        [
            client.identify("u1", {"email": "a@example.com", "plan": "pro"})[1],
            client.track("u1", "Paid", {"total": 9.5})[1],
        ]
        for client in (segment, rudder)
    ]
    return json.loads(json.dumps(built, default=str))


def test_messages_as_the_real_sdks_build_them_are_mapped_in_one_pass():
    # The one-pass path is most of what /v1/batch costs; a message shape it declined
    # would still be accepted, only several times slower, and nothing else would say so.
    now = datetime.now(UTC)
    for built in sdk_built():
        for message in built:
            fast = plain_event(copy.deepcopy(message), now, None, Mapping())
            assert fast is not None, message
            assert fast == mapped_the_long_way(message, now, None, Mapping())


#: Batch bodies as bytes: mostly messages of the plain kind (so that most bodies are
#: decoded), some of any kind, and a few written by hand where JSON readers differ.
BODIES = st.one_of(
    st.fixed_dictionaries(
        {"batch": st.lists(SDK_MESSAGES, max_size=3)},
        optional={"sentAt": SDK_TIMES | st.none(), "writeKey": st.just("k")},
    ).map(json.dumps),
    st.fixed_dictionaries(
        {"batch": st.lists(SDK_MESSAGES | MESSAGES, max_size=3)},
        optional={"sentAt": TIMES | st.none(), "writeKey": st.text(max_size=4) | JSON},
    ).map(json.dumps),
    (BATCHES | JSON).map(json.dumps),
).map(str.encode)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES, SENT_AT)
@example(
    b'{"batch": [{"type": "track", "type": "identify", "messageId": "m", "userId": "u"}]}', None
)
@example(b'{"batch": [], "batch": [{"type": "identify", "messageId": "m", "userId": "u"}]}', None)
@example(
    b'{"batch": [{"type": "identify", "messageId": "m", "userId": "u",'
    b' "traits": {"n": 123456789012345678901234567890, "f": 0.1e1, "x": -0.0}}]}',
    None,
)
@example(
    b'{"batch": [{"type": "identify", "messageId": "m", "userId": "u", "traits": {"n": 1e400}}]}',
    None,
)
@example(b'{"batch": [{"type": "identify", "messageId": "m", "userId": "\\ud800"}]}', None)
@example(b'{"batch": [{"type": "track", "messageId": "m", "userId": "u", "event": null}]}', None)
def test_whenever_a_body_is_decoded_the_usual_way_reads_it_the_same(body, sent_at):
    decoded = decode_batch(body)
    if decoded is None:
        return
    payload, _ = parse_json(body)
    items, read_sent_at = load_batch(payload)
    assert not unsendable(payload), "a value the usual way refuses"
    assert (decoded.sent_at, decoded.write_key) == (read_sent_at, payload.get("writeKey"))
    assert len(decoded.messages) == len(items)
    received_at, mapping = datetime.now(UTC), Mapping()
    for message, item in zip(decoded.messages, items, strict=True):
        assert decoded_event(message, received_at, sent_at, mapping) == plain_event(
            copy.deepcopy(item), received_at, sent_at, mapping
        )


def test_a_batch_as_the_real_sdks_send_it_is_decoded_and_mapped_in_one_pass():
    # Like the test above it: a body the decoder declined would still be accepted, the
    # usual way, and nothing else would say so.
    now = datetime.now(UTC)
    for built in sdk_built():
        decoded = decode_batch(json.dumps({"batch": built, "sentAt": now.isoformat()}).encode())
        assert decoded is not None
        assert all(decoded_event(m, now, decoded.sent_at, Mapping()) for m in decoded.messages)
