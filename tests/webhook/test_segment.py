"""The Segment-spec routes against a real Redis: what each message becomes, how keys,
gzip, limits and bad messages are answered (the SDKs themselves: tests/e2e)."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from webhook.app import create_app

from ..conftest import make_settings
from ..support import API_KEY
from .test_events import buffered, queued

WRITE_KEY = "write-key-1"


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def app_settings(redis_url):
    return make_settings(redis_url, HOOKRELAY_WRITE_KEYS=WRITE_KEY)


@pytest.fixture
def segment(app_settings):
    return create_app(app_settings).test_client()


def identify(n: int, **extra) -> dict:
    return {
        "type": "identify",
        "messageId": f"id-{n}",
        "timestamp": "2026-11-23T10:00:00.000+00:00",
        "userId": f"user-{n}",
        "traits": {"email": f"u{n}@example.com", "plan": "pro", "address": {"city": "Riga"}},
        **extra,
    }


def track(n: int, **extra) -> dict:
    return {
        "type": "track",
        "messageId": f"tr-{n}",
        "timestamp": "2026-11-23T10:00:01.000+00:00",
        "userId": f"user-{n}",
        "event": "Order Completed",
        "properties": {"total": 12.5},
        **extra,
    }


def post_batch(client, messages, headers=None, **body):
    return client.post(
        "/v1/batch",
        data=json.dumps({"batch": messages, **body}),
        headers=basic(WRITE_KEY) if headers is None else headers,
        content_type="application/json",
    )


def queued_events(redis_url) -> list[dict]:
    return [message.args[0] for message in queued(redis_url)]


def test_identify_and_track_become_a_profile_update_and_an_event(segment, redis_url):
    answer = post_batch(segment, [identify(1), track(1)])
    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "success": True,
        "accepted": 2,
        "duplicates": 0,
        "dropped": [],
        "invalid": [],
    }
    [profile] = buffered(redis_url)
    assert profile["id"] == "id-1"
    assert profile["user"] == {"uid": "user-1", "email": "u1@example.com"}
    assert profile["fields"] == {"plan": "pro", "address_city": "Riga"}
    assert profile["timestamp"] == "2026-11-23T10:00:00Z"
    [event] = queued_events(redis_url)
    assert (event["name"], event["payload"], event["user"]) == (
        "Order Completed",
        {"total": 12.5},
        {"uid": "user-1"},
    )


def test_a_resent_message_id_is_a_duplicate(segment, redis_url):
    post_batch(segment, [track(1)])
    again = post_batch(segment, [track(1)])
    assert (again.json["accepted"], again.json["duplicates"]) == (0, 1)
    assert len(queued_events(redis_url)) == 1


@pytest.mark.parametrize(
    "how",
    [
        lambda body: ({**basic(WRITE_KEY)}, body),
        lambda body: ({"X-Write-Key": WRITE_KEY}, body),
        lambda body: ({}, {**body, "writeKey": WRITE_KEY}),
        lambda body: ({**basic(API_KEY)}, body),
    ],
    ids=["basic-user", "header", "body", "api-key"],
)
def test_the_write_key_is_taken_where_sdks_put_it(segment, how):
    headers, body = how({"batch": [track(1)]})
    answer = segment.post("/v1/batch", data=json.dumps(body), headers=headers)
    assert answer.status_code == 200, answer.json


def test_a_wrong_write_key_is_a_401_the_sdks_give_up_on(segment, redis_url):
    answer = post_batch(segment, [track(1)], headers=basic("nope"))
    assert answer.status_code == 401
    assert set(answer.json) == {"code", "message"} and answer.json["code"] == "unauthorized"
    assert queued_events(redis_url) == []


def test_a_write_key_opens_nothing_else(segment):
    assert (
        segment.get("/v1/dlq", headers={"Authorization": f"Bearer {WRITE_KEY}"}).status_code == 401
    )


def test_a_gzip_body_is_read(segment, redis_url):
    body = gzip.compress(json.dumps({"batch": [identify(1), track(1)]}).encode())
    answer = segment.post(
        "/v1/batch",
        data=body,
        headers={**basic(WRITE_KEY), "Content-Encoding": "gzip"},
        content_type="application/json",
    )
    assert answer.json["accepted"] == 2


def test_a_gzip_bomb_and_a_batch_over_500_kb_are_refused(segment, redis_url):
    bomb = gzip.compress(b'{"batch": [' + b" " * (50 * 1024 * 1024) + b"]}")
    answer = segment.post(
        "/v1/batch", data=bomb, headers={**basic(WRITE_KEY), "Content-Encoding": "gzip"}
    )
    assert answer.status_code == 400
    assert answer.json["code"] == "request_too_large"
    many = [track(n, properties={"blob": "x" * 20_000}) for n in range(30)]
    answer = post_batch(segment, many)
    assert (answer.status_code, answer.json["code"]) == (400, "request_too_large")
    assert queued_events(redis_url) == []


def test_a_bad_message_is_reported_and_dropped_and_the_rest_accepted(segment, redis_url):
    messages = [
        track(1),
        track(2, timestamp="yesterday"),
        "not a message",
        track(3, properties={"blob": "x" * 40_000}),
        {"type": "track", "messageId": "no-event", "userId": "u"},
        None,
        track(4),
    ]
    answer = post_batch(segment, messages)
    assert answer.status_code == 200
    assert answer.json["accepted"] == 2
    reported = {item["index"]: item for item in answer.json["invalid"]}
    assert set(reported) == {1, 2, 3, 4, 5}
    assert reported[1]["message"].startswith("timestamp:")
    assert reported[3]["code"] == "message_too_large"
    assert "event" in reported[4]["message"]
    assert {e["id"] for e in queued_events(redis_url)} == {"tr-1", "tr-4"}


def test_a_batch_of_thousands_of_small_messages_is_accepted_whole(segment, redis_url):
    # Under 500 KB, more values than Lua can unpack in one call: written in chunks.
    messages = [
        {"type": "track", "messageId": f"m{n}", "userId": "u", "event": "E"} for n in range(5000)
    ]
    answer = post_batch(segment, messages)
    assert answer.status_code == 200
    assert answer.json["accepted"] == 5000
    assert [event["id"] for event in queued_events(redis_url)] == [f"m{n}" for n in range(5000)]


def test_context_traits_that_are_not_an_object_make_only_their_message_invalid(segment, redis_url):
    odd = {"type": "identify", "messageId": "odd", "userId": "u", "context": {"traits": [1]}}
    answer = post_batch(segment, [odd, track(1)])
    assert answer.status_code == 200, "was a 500"
    assert answer.json["accepted"] == 1
    [reported] = answer.json["invalid"]
    assert reported["index"] == 0 and reported["message"].startswith("context.traits:")


def test_anonymous_alias_and_page_are_dropped_saying_why(segment, redis_url):
    anonymous = {**track(1), "userId": None, "anonymousId": "anon-1"}
    alias = {"type": "alias", "messageId": "al-1", "previousId": "anon-1", "userId": "user-1"}
    page = {"type": "page", "messageId": "pg-1", "userId": "user-1", "name": "Home"}
    answer = post_batch(segment, [anonymous, alias, page])
    assert answer.json["accepted"] == 0
    reasons = [item["reason"] for item in answer.json["dropped"]]
    assert "identify the user first" in reasons[0]
    assert "alias" in reasons[1]
    assert "SEGMENT_FORWARD" in reasons[2]


def test_forwarded_pages_and_an_identified_anonymous_user_go_out(redis_url):
    settings = make_settings(redis_url, HOOKRELAY_WRITE_KEYS=WRITE_KEY, SEGMENT_FORWARD="page")
    client = create_app(settings).test_client()
    page = {"type": "page", "messageId": "pg-1", "userId": "user-1", "name": "Home"}
    by_email = {**track(2), "userId": None, "context": {"traits": {"email": "a@example.com"}}}
    answer = post_batch(client, [page, by_email])
    assert answer.json["accepted"] == 2
    events = {e["id"]: e for e in queued_events(redis_url)}
    assert events["pg-1"]["name"] == "page" and events["pg-1"]["payload"] == {"name": "Home"}
    assert events["tr-2"]["user"] == {"email": "a@example.com"}


def test_a_campaign_started_track_starts_the_campaign(segment, redis_url):
    properties = {"campaign_id": 9093, "kind": "ab", "segments": [77]}
    start = track(1, event="Campaign Started", properties=properties)
    assert post_batch(segment, [start]).json["accepted"] == 1
    [message] = queued(redis_url, queue="campaigns")
    assert message.args[0]["campaign"] == {"platform": "crm", "kind": "ab", "id": 9093}
    assert message.args[0]["segments"] == [77], "generated before the start"


def test_the_sender_clock_is_corrected_by_sent_at(segment, redis_url):
    now = datetime.now(UTC)
    ahead = now + timedelta(hours=2)
    happened = ahead - timedelta(minutes=1)
    post_batch(segment, [track(1, timestamp=happened.isoformat())], sentAt=ahead.isoformat())
    [event] = queued_events(redis_url)
    corrected = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    assert abs(corrected - (now - timedelta(minutes=1))) < timedelta(seconds=5)


def test_single_message_routes_and_their_refusals(segment, redis_url):
    message = {k: v for k, v in track(1).items() if k != "type"}
    answer = segment.post("/v1/track", json=message, headers=basic(WRITE_KEY))
    assert answer.status_code == 200 and answer.json["accepted"] == 1
    bad = segment.post("/v1/identify", json={"traits": {}}, headers=basic(WRITE_KEY))
    assert bad.status_code == 200, "anonymous: dropped, not refused"
    invalid = segment.post(
        "/v1/track", json={**message, "timestamp": "soon"}, headers=basic(WRITE_KEY)
    )
    assert invalid.status_code == 400 and set(invalid.json) == {"code", "message"}
    not_json = segment.post("/v1/batch", data="{", headers=basic(WRITE_KEY))
    assert not_json.status_code == 400 and set(not_json.json) == {"code", "message"}


def test_the_routes_are_also_served_under_a_prefix(redis_url):
    settings = make_settings(redis_url, HOOKRELAY_WRITE_KEYS=WRITE_KEY, SEGMENT_PATH_PREFIX="/seg")
    client = create_app(settings).test_client()
    answer = client.post("/seg/v1/batch", json={"batch": [track(1)]}, headers=basic(WRITE_KEY))
    assert answer.status_code == 200 and answer.json["accepted"] == 1


def test_times_no_date_can_hold_are_invalid_not_errors(segment, redis_url):
    far = track(1, timestamp="0001-01-01T00:00:00-23:59")
    answer = post_batch(segment, [far], sentAt="9999-12-31T23:59:59+23:59")
    assert answer.status_code == 200
    [report] = answer.json["invalid"]
    assert report["message"].startswith("timestamp:")


def test_a_value_no_platform_can_take_makes_only_its_message_invalid(segment, redis_url):
    good = json.dumps(track(1))
    bad = json.dumps(track(2)).replace('"total": 12.5', '"total": 1e400')
    body = f'{{"batch": [{good}, {bad}]}}'
    answer = segment.post(
        "/v1/batch", data=body, headers=basic(WRITE_KEY), content_type="application/json"
    )
    assert answer.json["accepted"] == 1
    [report] = answer.json["invalid"]
    assert report["index"] == 1 and report["message"].startswith("properties.total:")


def test_a_huge_integer_and_a_lone_surrogate_are_measured_in_a_batch_over_32_kb(segment, redis_url):
    filler = [track(n, properties={"note": "x" * 900}) for n in range(40)]
    big_number = track(100, properties={"total": 2**70})
    surrogate = json.dumps(track(101)).replace('"total": 12.5', '"total": "\\udc00"')
    wide = track(102, properties={"note": "€" * 11_000})
    messages = ", ".join([*map(json.dumps, [*filler, big_number, wide]), surrogate])
    answer = segment.post(
        "/v1/batch",
        data=f'{{"batch": [{messages}]}}',
        headers=basic(WRITE_KEY),
        content_type="application/json",
    )
    assert answer.status_code == 200
    reported = {item["index"]: item for item in answer.json["invalid"]}
    assert reported[41]["code"] == "message_too_large"
    assert reported[42]["message"].startswith("properties.total:")
    assert answer.json["accepted"] == 41
    assert {"tr-100"} <= {e["id"] for e in queued_events(redis_url)}


def test_a_message_is_measured_in_bytes_as_sent_as_the_sdks_measure_it(segment, redis_url):
    filler = [track(n, properties={"note": "x" * 900}) for n in range(40)]
    big = identify(100, traits={"email": "big@example.com", "note": "x" * 33_000})
    # Over 32 KB as sent, though within it written out compact: an SDK measures what
    # it sends, so it would not have sent it.
    padded = json.dumps(track(101), indent=40_000)
    # 10 KB as sent, 37 KB written out compact ("1e15" is 1000000000000000.0): accepted.
    numbers = json.dumps(track(102)).replace("12.5", "[" + ", ".join(["1e15"] * 2000) + "]")
    messages = ", ".join([*map(json.dumps, [*filler, big]), padded, numbers])
    body = f'{{"batch": [{messages}]}}'
    answer = segment.post(
        "/v1/batch", data=body, headers=basic(WRITE_KEY), content_type="application/json"
    )
    assert answer.status_code == 200
    reported = {item["index"]: item["code"] for item in answer.json["invalid"]}
    assert reported == {40: "message_too_large", 41: "message_too_large"}
    assert answer.json["accepted"] == 41
    assert "tr-102" in {e["id"] for e in queued_events(redis_url)}


def test_integers_past_64_bits_are_kept_exact(segment, redis_url):
    messages = [identify(1, traits={"points": 2**70}), track(2, properties={"total": -(2**80)})]
    answer = post_batch(segment, messages)
    assert answer.json["accepted"] == 2
    [profile], [event] = buffered(redis_url), queued_events(redis_url)
    assert profile["fields"]["points"] == 2**70
    assert event["payload"]["total"] == -(2**80)
