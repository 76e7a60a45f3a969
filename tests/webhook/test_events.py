"""``POST /v1/events`` against a real Redis: answers, durability, dedup, auth."""

from __future__ import annotations

import json

import dramatiq
import pytest
import redis

from webhook.app import MAX_BODY_BYTES, create_app
from workers.core.settings import ConfigError
from workers.queue.routes import PROFILE_BUFFER, ROUTES

from ..conftest import make_settings
from ..support import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def profile(event_id: str, uid: str = "42") -> dict:
    return {
        "id": event_id,
        "type": "profile",
        "timestamp": "2026-11-23T10:00:00Z",
        "user": {"uid": uid},
        "fields": {"level": 7},
    }


def track(event_id: str) -> dict:
    return {
        "id": event_id,
        "type": "event",
        "timestamp": "2026-11-23T10:00:00Z",
        "user": {"email": "a@example.com"},
        "name": "login_user",
        "payload": {"source": "ios"},
    }


def post(client, body, headers=AUTH, **kwargs):
    return client.post(
        "/v1/events",
        data=json.dumps(body),
        headers=headers,
        content_type="application/json",
        **kwargs,
    )


def queued(redis_url: str, queue: str = "crm") -> list[dramatiq.Message]:
    """The messages waiting on ``queue``, decoded as a worker would."""
    client = redis.Redis.from_url(redis_url)
    ids = client.lrange(f"dramatiq:{queue}", 0, -1)
    return [dramatiq.Message.decode(client.hget(f"dramatiq:{queue}.msgs", i)) for i in ids]


def buffered(redis_url: str) -> list[dict]:
    """The profile updates waiting in the profile buffer (each after its number)."""
    items = redis.Redis.from_url(redis_url).lrange(f"{PROFILE_BUFFER}:pending", 0, -1)
    return [json.loads(item.partition(b" ")[2]) for item in items]


def written_ids(redis_url: str) -> list[str]:
    """Ids of every event written anywhere: queued events, then buffered profiles."""
    return [m.args[0]["id"] for m in queued(redis_url)] + [e["id"] for e in buffered(redis_url)]


def test_event_is_enqueued_as_a_dramatiq_message(client, redis_url):
    response = post(client, track("evt-1"))
    assert response.status_code == 202
    assert response.json == {"accepted": 1, "duplicates": 0}
    [message] = queued(redis_url)
    assert message.actor_name == ROUTES["event"].actor_name
    assert message.args[0]["id"] == "evt-1"
    assert message.options["redis_message_id"]


def test_profile_is_buffered_for_coalescing(client, redis_url):
    assert post(client, profile("p1")).json == {"accepted": 1, "duplicates": 0}
    assert buffered(redis_url) == [profile("p1")], "stored in canonical form"
    assert queued(redis_url) == []
    identities = redis.Redis.from_url(redis_url).smembers(f"{PROFILE_BUFFER}:identities")
    assert identities == {b"uid:42"}


def test_batch_keeps_order_within_each_destination(client, redis_url):
    events = [profile("p1"), track("t1"), profile("p2", uid="43"), track("t2")]
    response = post(client, {"events": events})
    assert response.json == {"accepted": 4, "duplicates": 0}
    assert [m.args[0]["id"] for m in queued(redis_url)] == ["t1", "t2"]
    assert [e["id"] for e in buffered(redis_url)] == ["p1", "p2"]


def test_the_largest_batch_is_written_whole_and_in_order(client, redis_url):
    # The script writes each key once per request, a thousand values a call: 1,000
    # events are 2,000 values for the messages' hash.
    events = [track(f"t{i}") for i in range(500)] + [profile(f"p{i}", str(i)) for i in range(500)]
    assert post(client, {"events": events}).json == {"accepted": 1000, "duplicates": 0}
    assert written_ids(redis_url) == [event["id"] for event in events]
    numbers = redis.Redis.from_url(redis_url).lrange(f"{PROFILE_BUFFER}:pending", 0, -1)
    numbers = [int(item.partition(b" ")[0]) for item in numbers]
    assert numbers == list(range(numbers[0], numbers[0] + 500)), "numbered in order, no gap"
    identities = redis.Redis.from_url(redis_url).scard(f"{PROFILE_BUFFER}:identities")
    assert identities == 500


def test_same_id_is_a_duplicate_and_not_enqueued_again(client, redis_url):
    post(client, {"events": [profile("a"), track("b")]})
    response = post(client, {"events": [track("b"), profile("c"), profile("c"), profile("a")]})
    assert response.status_code == 202
    assert response.json == {"accepted": 1, "duplicates": 3}
    assert written_ids(redis_url) == ["b", "a", "c"]


def test_dedup_keys_expire_after_24_hours(client, redis_url):
    post(client, profile("a"))
    ttl = redis.Redis.from_url(redis_url).ttl("hookrelay:seen:a")
    assert 24 * 3600 - 10 < ttl <= 24 * 3600


def test_invalid_event_rejects_the_whole_batch(client, redis_url):
    bad = profile("bad")
    del bad["user"]
    response = post(client, {"events": [profile("ok"), bad]})
    assert response.status_code == 422
    assert response.json == {"errors": {"1": {"user": ["Missing data for required field."]}}}
    assert written_ids(redis_url) == []
    assert post(client, profile("ok")).json == {"accepted": 1, "duplicates": 0}


def test_campaign_start_is_queued_for_the_campaigns_actor(client, redis_url):
    event = {
        "id": "c",
        "type": "campaign_start",
        "timestamp": "2026-11-23T10:00:00Z",
        "campaign": {"platform": "crm", "kind": "mailing", "id": 9093},
    }
    assert post(client, event).json == {"accepted": 1, "duplicates": 0}
    queued = redis.Redis.from_url(redis_url).hvals("dramatiq:campaigns.msgs")
    assert [json.loads(data)["args"][0]["campaign"]["id"] for data in queued] == [9093]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": "Bearer "},
        {"Authorization": API_KEY},
    ],
)
def test_bad_or_missing_key_is_401(client, redis_url, headers):
    response = post(client, profile("x"), headers=headers)
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert written_ids(redis_url) == []


def test_any_configured_key_is_accepted(redis_url):
    client = create_app(make_settings(redis_url, HOOKRELAY_API_KEYS="old,new")).test_client()
    assert post(client, profile("x"), headers={"Authorization": "Bearer new"}).status_code == 202


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ('{"id": NaN}', "application/json", 400),
        ("[" * 100_000 + "]" * 100_000, "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        ("{}", "text/plain", 415),
        ("{}", None, 415),
        ("[]", "application/json", 422),
        ("[1]", "application/json", 422),
        ("{}", "application/json; charset=utf-8", 422),
    ],
)
def test_malformed_bodies(client, redis_url, data, content_type, status):
    response = client.post("/v1/events", data=data, headers=AUTH, content_type=content_type)
    assert response.status_code == status
    assert response.is_json
    assert written_ids(redis_url) == []


def test_body_over_5_mib_is_413_saying_the_limit(client, redis_url):
    big = {"events": [dict(profile("x"), fields={"blob": "x" * MAX_BODY_BYTES})]}
    response = post(client, big)
    assert response.status_code == 413
    assert "limit of 5 MiB" in response.json["message"]
    assert "several requests" in response.json["message"]


def test_a_bare_array_is_accepted_as_a_batch(client, redis_url):
    response = post(client, [profile("arr-1"), track("arr-2")])
    assert response.status_code == 202, response.json
    assert sorted(written_ids(redis_url)) == ["arr-1", "arr-2"]


def test_a_numeric_uid_is_taken_as_a_string(client, redis_url):
    event = dict(profile("num-1"), user={"uid": 42})
    assert post(client, event).status_code == 202
    assert buffered(redis_url)[0]["user"] == {"uid": "42"}


def test_a_signing_secret_that_is_no_whsec_secret_is_refused_at_start(redis_url):
    """One signature scheme: Standard Webhooks (tests/webhook/test_standard_webhooks.py)."""
    with pytest.raises(ConfigError) as refused:
        make_settings(redis_url, HOOKRELAY_SIGNING_SECRET="signing-secret")
    assert "HOOKRELAY_SIGNING_SECRET" in str(refused.value)


def test_health_endpoints(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ok", "redis": "ok", "store": "ok"}


def test_unknown_path_and_method_are_json(client):
    assert client.get("/nope").status_code == 404
    response = client.get("/v1/events")
    assert response.status_code == 405
    assert response.is_json
