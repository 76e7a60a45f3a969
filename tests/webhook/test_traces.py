"""``GET /v1/events/<id>`` before any worker took the event: what the receiver's own
writes tell (the dedup key), duplicates, and unknown ids."""

from __future__ import annotations

import base64
import time
from datetime import datetime

from ..conftest import make_settings
from ..support import API_KEY
from .test_events import AUTH, profile, track


def post(client, events):
    response = client.post("/v1/events", json={"events": events}, headers=AUTH)
    assert response.status_code == 202, response.json
    return response.json


def test_an_accepted_event_is_queued_and_a_profile_update_buffered(client):
    before = time.time()
    post(client, [track("t-1"), profile("t-2")])
    event = client.get("/v1/events/t-1", headers=AUTH).json
    update = client.get("/v1/events/t-2", headers=AUTH).json
    assert (event["state"], event["type"]) == ("queued", "event")
    assert (update["state"], update["type"]) == ("buffered", "profile")
    accepted = datetime.fromisoformat(event["accepted_at"]).timestamp()
    assert before - 1.5 < accepted < time.time() + 0.5, "from the dedup key's time to live"
    assert event["attempts"] == [] and event["duplicates"] == []


def test_a_duplicate_submission_is_on_the_trace(client):
    post(client, [track("t-3")])
    assert post(client, [track("t-3")]) == {"accepted": 0, "duplicates": 1}
    shown = client.get("/v1/events/t-3", headers=AUTH).json
    assert len(shown["duplicates"]) == 1 and shown["state"] == "queued"


def test_an_unknown_id_is_a_404_that_says_which_and_why(client):
    response = client.get("/v1/events/nope/with-slash", headers=AUTH)
    assert response.status_code == 404
    message = response.json["message"]
    assert message.startswith("No event nope/with-slash: not accepted in the last 24 h")
    assert "TRACE_RETENTION_S" in message


def test_it_needs_an_api_key(client):
    assert client.get("/v1/events/t-1").status_code == 401


def test_with_traces_off_a_duplicate_writes_nothing(redis_url):
    import redis

    from webhook.app import create_app

    client = create_app(make_settings(redis_url, TRACE_RETENTION_S="0")).test_client()
    post(client, [track("t-4")])
    post(client, [track("t-4")])
    assert not redis.Redis.from_url(redis_url).exists("hookrelay:trace:t-4")
    assert (
        client.get("/v1/events/t-4", headers={"Authorization": f"Bearer {API_KEY}"}).json["state"]
        == "queued"
    )


def test_the_status_pages_search_box_opens_an_events_trace(client):
    post(client, [track("t-5")])
    basic = {"Authorization": "Basic " + base64.b64encode(f":{API_KEY}".encode()).decode()}
    page = client.get("/status", headers=basic).get_data(as_text=True)
    assert 'action="status/event"' in page
    shown = client.get("/status/event?id=t-5", headers=basic)
    assert shown.status_code == 200 and '<span id="state">queued</span>' in shown.get_data(
        as_text=True
    )
    missing = client.get("/status/event?id=nope", headers=basic)
    assert missing.status_code == 404 and "No event nope" in missing.get_data(as_text=True)


def test_the_tail_names_each_accepted_event_whatever_its_id_holds(client, redis_url):
    import redis

    from workers.trace.tail import KEY, expanded

    odd = 'a "quoted" id\nover two lines'
    post(client, [track(odd), profile("t-6")])
    [(_, fields)] = redis.Redis.from_url(redis_url).xrange(KEY)
    assert [(o["outcome"], o["event_id"], o["type"]) for o in expanded(fields)] == [
        ("accepted", odd, "event"),
        ("accepted", "t-6", "profile"),
    ]


def test_a_trace_moved_to_sql_is_answered_the_same(client, redis_url):
    import redis
    import sqlalchemy as sa

    from workers.trace.archive import TraceArchive
    from workers.trace.mover import TraceMover
    from workers.trace.trace import EventTrace, trace_key

    from ..conftest import TEST_DATABASE_URL

    connection = redis.Redis.from_url(redis_url)
    post(client, [track("t-5")])
    EventTrace(connection, 3600).add(trace_key("t-5"), {"at": 1, "do": "delivered", "attempt": 1})
    before = client.get("/v1/events/t-5", headers=AUTH).json
    archive = TraceArchive(sa.create_engine(TEST_DATABASE_URL), 3600)
    assert TraceMover(connection, archive, delay_ms=0).move() == 1
    assert not connection.exists(trace_key("t-5"))
    after = client.get("/v1/events/t-5", headers=AUTH).json
    assert after["state"] == "delivered" and after["attempts"] == before["attempts"]


def test_a_sql_store_that_does_not_answer_is_a_503(redis_url, tmp_path):
    from webhook.app import create_app

    away = make_settings(redis_url, DATABASE_URL=f"sqlite:///{tmp_path}/missing/stats.db")
    response = create_app(away).test_client().get("/v1/events/t-6", headers=AUTH)
    assert response.status_code == 503 and response.json["error"] == "unavailable"
    assert response.headers["Retry-After"]
