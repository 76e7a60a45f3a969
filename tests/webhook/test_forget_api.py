"""``/v1/users/forget``: what it takes and answers, and the door it leaves (the
erasure itself: tests/workers/test_forget.py)."""

from __future__ import annotations

import json
import time

import pytest
import redis

from webhook.app import create_app
from workers.campaigns.store import Store
from workers.core.door import REFRESH_S, Door
from workers.erasure.eraser import Eraser
from workers.erasure.requests import ForgetRequests
from workers.queue.routes import FORGET

from ..conftest import make_settings
from ..support import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}
WRITE_KEY = "write-key-1"
STAMP = "2026-12-01T10:00:00Z"


@pytest.fixture
def settings(redis_url):
    return make_settings(
        redis_url,
        HOOKRELAY_HOOK_USER="hook",
        HOOKRELAY_HOOK_PASSWORD="pw",
        HOOKRELAY_WRITE_KEYS=WRITE_KEY,
    )


@pytest.fixture
def web(settings):
    return create_app(settings).test_client()


def forget(web, user: dict, suppress: bool = True):
    return web.post("/v1/users/forget", json={"user": user, "suppress": suppress}, headers=AUTH)


def carry_out(settings, request_id: str) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    door = Door(client, settings.suppression_key)
    requests = ForgetRequests(client, door)
    engine = Store(settings.database_url).engine
    assert Eraser(client, engine, door, requests, settle_s=REFRESH_S + 0.1).carry_out(request_id)


def event(event_id: str, user: dict) -> dict:
    return {"id": event_id, "type": "event", "timestamp": STAMP, "user": user, "name": "login"}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"user": ["Missing data for required field."]}),
        (
            {"user": {}},
            {"user": {"_schema": ["Needs at least one of: uid, email, phone, wp_token."]}},
        ),
        ({"user": {"email": "nope"}}, {"user": {"email": ["Not a valid email address."]}}),
        ({"user": {"uid": "1"}, "suppress": "maybe"}, {"suppress": ["Not a valid boolean."]}),
        ({"user": {"uid": "1"}, "name": "x"}, {"name": ["Unknown field."]}),
    ],
)
def test_a_bad_request_is_a_422_naming_the_field(web, body, errors):
    answer = web.post("/v1/users/forget", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert answer.get_json() == {"errors": errors}


def test_it_needs_an_api_key(web):
    assert web.post("/v1/users/forget", json={"user": {"uid": "1"}}).status_code == 401
    assert web.get("/v1/users/forget/x").status_code == 401


def test_a_request_is_stored_with_its_message_and_asking_again_changes_nothing(web, settings):
    client = redis.Redis.from_url(settings.redis_url)
    first = forget(web, {"email": "A@Example.com"})
    again = forget(web, {"email": "a@example.COM"})
    assert first.status_code == again.status_code == 202
    request_id = first.get_json()["id"]
    assert again.get_json()["id"] == request_id, "one person, one pending request"
    assert client.llen(f"dramatiq:{FORGET.queue_name}") == 1
    shown = web.get(f"/v1/users/forget/{request_id}", headers=AUTH).get_json()
    assert shown["state"] == "pending" and shown["suppress"] is True
    assert "example" not in json.dumps(shown).lower(), "the answer names no one"
    assert web.get("/v1/users/forget/nothing", headers=AUTH).status_code == 404
    assert web.delete(f"/v1/users/forget/{request_id}/suppression", headers=AUTH).status_code == 404


def test_a_suppressed_person_is_dropped_until_the_suppression_is_deleted(web, settings):
    request_id = forget(web, {"uid": "42"}).get_json()["id"]
    carry_out(settings, request_id)
    done = web.get(f"/v1/users/forget/{request_id}", headers=AUTH).get_json()
    assert done["state"] == "done" and done["done_at"] >= done["requested_at"]

    answer = web.post(
        "/v1/events",
        json={"events": [event("a", {"uid": "42"}), event("b", {"uid": "7"})]},
        headers=AUTH,
    )
    assert answer.status_code == 202
    body = answer.get_json()
    assert body["accepted"] == 1 and body["duplicates"] == 0
    assert [(d["index"], d["id"]) for d in body["dropped"]] == [(0, "a")]
    pre = web.get("/v1/hooks/crm?stage=pre&uid=42", auth=("hook", "pw")).get_json()
    assert pre["allow"] is False and "forgotten" in pre["reason"]
    batch = [
        {"type": "track", "userId": "7", "event": "Login", "messageId": "s-1"},
        {"type": "track", "userId": "42", "event": "Login", "messageId": "s-2"},
    ]
    segment = web.post("/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, "")).get_json()
    assert segment["accepted"] == 1
    assert [(d["index"], d["messageId"]) for d in segment["dropped"]] == [(1, "s-2")]

    assert web.delete(f"/v1/users/forget/{request_id}/suppression", headers=AUTH).status_code == 204
    time.sleep(REFRESH_S + 0.1)
    again = web.post("/v1/events", json=event("c", {"uid": "42"}), headers=AUTH).get_json()
    assert again == {"accepted": 1, "duplicates": 0}


def test_without_suppress_later_events_go_through(web, settings):
    request_id = forget(web, {"uid": "43"}, suppress=False).get_json()["id"]
    carry_out(settings, request_id)
    answer = web.post("/v1/events", json=event("d", {"uid": "43"}), headers=AUTH).get_json()
    assert answer == {"accepted": 1, "duplicates": 0}
