"""What no platform can take is refused at the door with a 422 naming the event and the
field, never accepted to fail every delivery attempt, and never a 500."""

from __future__ import annotations

import json

import pytest
import redis

from webhook.app import create_app

from ..conftest import make_settings
from .test_events import AUTH, profile, track
from .test_hooks import HOOK_AUTH

#: Stands for a lone surrogate in a body: replaced by its JSON escape once encoded.
LONE = "<lone>"
#: Stands for a number beyond a double: replaced by ``1e400`` once encoded.
HUGE = "<huge>"


def encoded(body) -> bytes:
    """``body`` as JSON with the placeholders put in as a client could write them."""
    text = json.dumps(body).replace(LONE, "\\ud800").replace(f'"{HUGE}"', "1e400")
    return text.encode()


def raw_post(client, body):
    return client.post(
        "/v1/events", data=encoded(body), headers=AUTH, content_type="application/json"
    )


def nothing_queued(redis_url: str) -> bool:
    client = redis.Redis.from_url(redis_url)
    return not client.llen("dramatiq:crm") and not client.llen("hookrelay:profiles:pending")


def assert_named(got: dict, expected: dict) -> None:
    """Each expected path is in ``got``, and one of its messages holds the expected text."""
    for key, value in expected.items():
        assert key in got, (key, got)
        if isinstance(value, dict):
            assert_named(got[key], value)
        else:
            assert any(value[0] in message for message in got[key]), got[key]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"events": [track("ok"), {**profile("p"), "fields": {"level": HUGE}}]},
            {"1": {"fields": {"level": ["Not a finite number"]}}},
        ),
        ({**profile(f"p{LONE}")}, {"0": {"id": ["lone UTF-16 surrogate"]}}),
        ({**profile("p"), "user": {"uid": LONE}}, {"0": {"user": {"uid": ["lone UTF-16"]}}}),
        (
            {**track("e"), "payload": {"tags": ["ok", f"x{LONE}"]}},
            {"0": {"payload": {"tags": {"1": ["lone UTF-16 surrogate"]}}}},
        ),
    ],
)
def test_unsendable_values_are_refused_naming_the_event_and_field(client, redis_url, body, errors):
    response = raw_post(client, body)
    assert response.status_code == 422, response.text
    assert_named(response.get_json()["errors"], errors)
    assert nothing_queued(redis_url), "a batch is all or nothing"


@pytest.mark.parametrize(
    "timestamp",
    ["9999-12-31T23:59:59.999Z", "9999-12-31T23:00:00-05:00", "1999-12-31T23:59:59Z"],
)
def test_timestamps_out_of_range_are_refused_saying_the_range(client, redis_url, timestamp):
    event = {**profile("far"), "timestamp": timestamp}
    response = client.post("/v1/events", json=event, headers=AUTH)
    assert response.status_code == 422, response.text
    [message] = response.get_json()["errors"]["0"]["timestamp"]
    assert message.startswith("Must be between 2000-01-01T00:00:00Z and 24 h after now")
    assert nothing_queued(redis_url)


def test_a_surrogate_pair_and_big_finite_numbers_are_accepted(client):
    body = {**track("e"), "payload": {"smile": "\U0001f600", "big": 1e300, "int": 10**40}}
    text = json.dumps(body).encode()
    assert b"\\ud83d\\ude00" in text, "the pair is sent as escapes"
    response = client.post("/v1/events", data=text, headers=AUTH, content_type="application/json")
    assert response.status_code == 202


def test_a_hook_or_suppression_with_a_lone_surrogate_is_a_422_not_a_500(redis_url):
    settings = make_settings(redis_url, HOOKRELAY_HOOK_USER="crm", HOOKRELAY_HOOK_PASSWORD="s3cret")
    client = create_app(settings).test_client()
    hook = {"stage": "pre", "email": f"a{LONE}@example.com"}
    response = client.post(
        "/v1/hooks/crm", data=encoded(hook), headers=HOOK_AUTH, content_type="application/json"
    )
    assert response.status_code == 422
    assert "lone UTF-16 surrogate" in response.get_json()["errors"]["email"][0]
    response = client.post(
        "/v1/suppressions",
        data=encoded({"email": f"a{LONE}@example.com"}),
        headers=AUTH,
        content_type="application/json",
    )
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/v1/events", "/v1/hooks/crm", "/v1/suppressions"])
def test_a_body_nested_too_deeply_is_a_400_on_every_path(redis_url, path):
    settings = make_settings(redis_url, HOOKRELAY_HOOK_USER="crm", HOOKRELAY_HOOK_PASSWORD="s3cret")
    client = create_app(settings).test_client()
    headers = HOOK_AUTH if "hooks" in path else AUTH
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post(path, data=deep, headers=headers, content_type="application/json")
    assert response.status_code == 400
    assert response.is_json


@pytest.mark.parametrize(
    ("where", "depth"), [("properties", 1000), ("properties", 100_000), ("batch", 100_000)]
)
def test_a_segment_body_nested_too_deeply_is_a_400_in_the_segment_shape(redis_url, where, depth):
    """Past what the parser follows (100,000) or what reading a message's values
    follows (1,000, inside a message's properties): either way Segment's shape."""
    client = create_app(make_settings(redis_url, HOOKRELAY_WRITE_KEYS="wk")).test_client()
    deep = "[" * depth + "]" * depth
    message = '{"type": "track", "userId": "u", "event": "e", "messageId": "m1", '
    batch = deep if where == "batch" else f'[{message}"properties": {{"x": {deep}}}}}]'
    response = client.post(
        "/v1/batch",
        data=f'{{"writeKey": "wk", "batch": {batch}}}',
        headers={"X-Write-Key": "wk"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert set(response.json) == {"code", "message"}, response.json
