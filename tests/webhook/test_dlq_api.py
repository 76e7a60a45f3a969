"""``/v1/dlq``: authenticated listing, showing, replaying and purging."""

from __future__ import annotations

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
    assert client.post("/v1/dlq/replay", headers=AUTH).json == {"matched": 1, "replayed": 1}
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
