"""The fast path of load_event answers only where the schema answers the same."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from schemas.events import load_by_schema
from schemas.fast import fast_event

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
@example({**TRACK, "timestamp": datetime(2026, 11, 23, 10, tzinfo=timezone(OFFSETS[1]))})
@example({**TRACK, "timestamp": datetime(2026, 11, 23, 10)})
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
