"""``/v1/campaigns`` and post-send hooks against a real Redis and a SQLite store."""

from __future__ import annotations

import json

import pytest
import redis

from webhook.app import create_app
from webhook.posthook.recorder import CAMPAIGN_SENDS
from workers.campaigns.campaign import Campaign
from workers.campaigns.schedule import SCHEDULE_PREFIX
from workers.campaigns.schema import upgrade
from workers.campaigns.sources import scheduled_sources
from workers.campaigns.store import TOTAL, Snapshot, Store

from ..conftest import make_settings
from .test_events import AUTH
from .test_hooks import HOOK_AUTH


@pytest.fixture
def settings(redis_url, tmp_path):
    return make_settings(
        redis_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'stats.db'}",
        HOOKRELAY_HOOK_USER="crm",
        HOOKRELAY_HOOK_PASSWORD="s3cret",
        FOLLOWUP_SCHEDULE="300,1800,7200",
    )


@pytest.fixture
def store(settings):
    store = Store(settings.database_url)
    upgrade(store)
    return store


@pytest.fixture
def client(settings, store):
    return create_app(settings).test_client()


def test_stats_need_an_api_key(client):
    assert client.get("/v1/campaigns/crm/9093/stats").status_code == 401


def test_stats_of_an_unknown_campaign_are_404(client):
    response = client.get("/v1/campaigns/crm/9093/stats", headers=AUTH)
    assert response.status_code == 404
    assert "No statistics" in response.json["message"]


def test_stats_show_totals_and_series(client, store):
    run = store.ensure_run(Campaign("crm", 9093), "started")
    store.save_snapshots(
        run.id,
        "crm.report",
        [
            Snapshot("S_9093", "sum_opened", "2026-11-23", 4),
            Snapshot("S_9093", "sum_opened", TOTAL, 4),
        ],
    )
    body = client.get("/v1/campaigns/crm/9093/stats", headers=AUTH).json
    assert body["campaign"]["state"] == "started"
    assert body["totals"] == {"crm.report": {"S_9093": {"sum_opened": 4.0}}}
    assert body["series"] == {"crm.report": {"S_9093": {"sum_opened": [["2026-11-23", 4.0]]}}}


def test_an_action_is_queued_for_the_workers(client, redis_url):
    response = client.post("/v1/campaigns/crm/9093/pause", headers=AUTH)
    assert response.status_code == 202
    [data] = redis.Redis.from_url(redis_url).hvals("dramatiq:campaigns.msgs")
    message = json.loads(data)
    assert message["actor_name"] == "campaign_action"
    assert message["args"] == [{"platform": "crm", "id": 9093, "kind": "mailing"}, "pause"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/campaigns/crm/9093/start", 404),
        ("/v1/campaigns/crm/9093/explode", 404),
        ("/v1/campaigns/pushwoosh/9093/pause", 404),
        ("/v1/campaigns/crm/abc/pause", 404),
    ],
)
def test_unknown_actions_and_platforms_are_404(client, path, status):
    assert client.post(path, headers=AUTH).status_code == status


def test_a_bad_kind_is_422(client):
    response = client.post("/v1/campaigns/crm/9093/pause", headers=AUTH, json={"kind": "blast"})
    assert response.status_code == 422
    assert "kind" in response.json["errors"]


def test_ten_thousand_post_hooks_create_one_schedule(client, redis_url):
    url = "/v1/hooks/crm?stage=post&campaign_id=9093&email=user{}@example.com"
    for n in range(10_000):
        assert client.post(url.format(n), headers=HOOK_AUTH).status_code == 200
    r = redis.Redis.from_url(redis_url)
    assert r.hget(CAMPAIGN_SENDS, "crm:9093") == b"10000"
    assert r.exists(SCHEDULE_PREFIX + "crm:9093")
    # Every step is due past the horizon (60 s): all wait in the due set.
    assert r.zcard("dramatiq:__due__") == 3 * len(scheduled_sources())
    assert r.scard("hookrelay:recipients:crm:9093") == 20
