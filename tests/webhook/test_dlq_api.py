"""``/v1/dlq``: authenticated listing, showing, replaying and purging."""

from __future__ import annotations

import pytest
import redis

from webhook.app import create_app
from workers.campaigns.schema import migrate
from workers.queue.deadletters import DeadLetterQueue

from ..conftest import make_settings
from ..workers.test_cli import letters_to_select
from ..workers.test_deadletters import failed_message, rejected
from .test_events import AUTH


def test_dlq_requires_a_key(client):
    assert client.get("/v1/dlq").status_code == 401
    assert client.delete("/v1/dlq", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_list_show_replay_purge(client, redis_url):
    dlq = DeadLetterQueue(redis.Redis.from_url(redis_url))
    letter = dlq.add(failed_message("e1"), reason="permanent: 400", error=rejected(), attempts=1)
    dlq.add(failed_message("e2"), reason="permanent: 400", error=rejected(), attempts=1)

    listed = client.get("/v1/dlq", headers=AUTH).json
    assert listed["count"] == 2
    assert [item["event_id"] for item in listed["letters"]] == ["e2", "e1"]
    assert "message" not in listed["letters"][0], "listings leave the event's data out"

    shown = client.get(f"/v1/dlq/{letter.id}", headers=AUTH).json
    assert shown["reason"] == "permanent: 400"
    assert shown["message"]["args"][0]["id"] == "e1"
    assert client.get("/v1/dlq/nope", headers=AUTH).status_code == 404

    assert client.post(f"/v1/dlq/{letter.id}/replay", headers=AUTH).json == {"replayed": 1}
    assert client.post(f"/v1/dlq/{letter.id}/replay", headers=AUTH).status_code == 404
    everything = client.post("/v1/dlq/replay", json={"all": True}, headers=AUTH)
    assert everything.json == {"matched": 1, "replayed": 1}
    assert redis.Redis.from_url(redis_url).llen("dramatiq:crm") == 2

    dlq.add(failed_message("e3"), reason="r", error=rejected(), attempts=1)
    assert client.delete("/v1/dlq", headers=AUTH).json == {"purged": 1}


def test_letters_past_the_redis_cap_are_listed_shown_and_replayed_the_same(redis_url, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'stats.db'}"
    migrate(database_url)
    settings = make_settings(redis_url, DATABASE_URL=database_url, DLQ_REDIS_MAX="1")
    client = create_app(settings).test_client()
    dlq = DeadLetterQueue.from_settings(redis.Redis.from_url(redis_url), settings)
    dlq.add(failed_message("e1"), reason="permanent: 400", error=rejected(), attempts=1)
    archived = dlq.add(failed_message("e2"), reason="permanent: 400", error=rejected(), attempts=1)
    assert redis.Redis.from_url(redis_url).zcard("hookrelay:dlq:index") == 1

    listed = client.get("/v1/dlq", headers=AUTH).json
    assert listed["count"] == 2
    assert {item["event_id"] for item in listed["letters"]} == {"e1", "e2"}
    shown = client.get(f"/v1/dlq/{archived.id}", headers=AUTH).json
    assert shown["message"]["args"][0]["id"] == "e2"
    assert client.post(f"/v1/dlq/{archived.id}/replay", headers=AUTH).json == {"replayed": 1}
    assert client.get("/v1/dlq", headers=AUTH).json["count"] == 1


def test_replay_by_filters_with_a_dry_run_and_field_errors(client, redis_url):
    letters_to_select(redis_url)
    counted = client.post("/v1/dlq/replay", json={"platform": "crm", "dry_run": True}, headers=AUTH)
    assert counted.json == {"matched": 2, "replayed": 0}
    window = {"since": "2026-11-02T00:00:00Z", "until": "2026-11-04T00:00:00Z"}
    assert client.post("/v1/dlq/replay", json=window, headers=AUTH).json == {
        "matched": 2,
        "replayed": 2,
    }
    by_ids = client.post("/v1/dlq/replay", json={"ids": ["s1", "s4"]}, headers=AUTH)
    assert by_ids.json == {"matched": 2, "replayed": 2}
    refused = client.post("/v1/dlq/replay", json={"status": "4xx", "colour": 1}, headers=AUTH)
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"status", "colour"}


#: Bodies that ask for nothing readable, each with the answer it gets.
UNREADABLE = [
    ("curl's default form encoding", b"dry_run=true", "application/x-www-form-urlencoded", 415),
    ("no content type", b'{"dry_run": true}', None, 415),
    ("a trailing comma", b'{"dry_run": true,}', "application/json", 400),
    ("an array", b"[]", "application/json", 400),
    ("a string", b'"all"', "application/json", 400),
    ("null", b"null", "application/json", 400),
    ("no body", b"", "application/json", 400),
    ("no filter", b"{}", "application/json", 422),
    ("only dry_run", b'{"dry_run": true}', "application/json", 422),
    ("all, as a string", b'{"all": "true"}', "application/json", 422),
    ("all and a filter", b'{"all": true, "platform": "crm"}', "application/json", 422),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status"), [u[1:] for u in UNREADABLE], ids=[u[0] for u in UNREADABLE]
)
def test_a_body_that_names_nothing_replays_nothing(client, redis_url, body, content_type, status):
    dlq = DeadLetterQueue(redis.Redis.from_url(redis_url))
    dlq.add(failed_message("e1"), reason="permanent: 400", error=rejected(), attempts=1)
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    answer = client.post("/v1/dlq/replay", data=body, headers=headers)
    assert answer.status_code == status, answer.json
    assert dlq.count() == 1, "nothing replayed"
    assert redis.Redis.from_url(redis_url).llen("dramatiq:crm") == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [("/v1/suppressions", b"email=a@example.com"), ("/v1/suppressions", b"[]")],
)
def test_suppressions_refuse_a_body_that_is_not_a_json_object(client, path, body):
    content_type = (
        "application/json" if body.startswith(b"[") else "application/x-www-form-urlencoded"
    )
    answer = client.post(path, data=body, headers={**AUTH, "Content-Type": content_type})
    assert answer.status_code in (400, 415)
    assert client.get("/v1/suppressions", headers=AUTH).json["count"] == 0
