"""An automated campaign is followed daily while it is active, against the real
sandbox, a real Redis and the SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dramatiq
import pytest
import redis

from workers.campaigns.campaign import Campaign
from workers.campaigns.daily import DailyFollow
from workers.campaigns.schedule import FollowupScheduler
from workers.campaigns.sources import scheduled_sources
from workers.core.platform_settings import CrmConfig
from workers.platforms.crm import CrmClient
from workers.queue.routes import FETCH_STATS, FOLLOW_DAILY

SOURCES = len(scheduled_sources())


@pytest.fixture
def client(redis_url):
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def crm(clean_sandbox):
    config = CrmConfig(
        base_url=f"{clean_sandbox.url}/crm", login="sandbox", secret="sandbox-secret"
    )
    return CrmClient(config)


@pytest.fixture
def scheduler(client):
    return FollowupScheduler(client, schedule_s=(300, 1800), time_scale=1.0)


def automated(crm: CrmClient, **fields) -> Campaign:
    body = {"message_type": "L", "message_id": 1, "source_type": "S", "source_id": 1, **fields}
    created = crm.create_campaign("automated", body)
    return Campaign("crm", int(created["id"]), "automated")


def due(client: redis.Redis) -> list[dramatiq.Message]:
    """Every message waiting in the due set."""
    raw = client.hvals("dramatiq:__due__.msgs")
    return [dramatiq.Message.decode(item.split(b"\n", 1)[1]) for item in raw]


def fetches_now(client: redis.Redis) -> int:
    return client.llen(f"dramatiq:{FETCH_STATS.queue_name}")


def test_an_automated_campaigns_schedule_holds_its_first_day(client, scheduler, crm):
    campaign = automated(crm)
    assert scheduler.ensure(campaign)
    [daily] = [m for m in due(client) if m.actor_name == FOLLOW_DAILY.actor_name]
    assert list(daily.args) == [campaign.as_dict(), 1]
    assert daily.options["eta"] - datetime.now(UTC).timestamp() * 1000 > 86_000_000
    mailing = Campaign("crm", 9093, "mailing")
    assert scheduler.ensure(mailing)
    dailies = [m for m in due(client) if m.actor_name == FOLLOW_DAILY.actor_name]
    assert len(dailies) == 1, "a one-off mailing is not followed daily"


def test_each_active_day_fetches_every_source_once_and_writes_the_next(
    client, scheduler, crm, store
):
    campaign = automated(crm)
    follow = DailyFollow(store, crm, scheduler, horizon_days=90)
    assert follow.follow(campaign, 3) == "followed"
    assert follow.follow(campaign, 3) == "followed"
    assert fetches_now(client) == SOURCES, "once, however often day 3 comes"
    [next_day] = [m for m in due(client) if m.actor_name == FOLLOW_DAILY.actor_name]
    assert list(next_day.args) == [campaign.as_dict(), 4]


def test_the_horizon_day_is_the_last(client, scheduler, crm, store):
    campaign = automated(crm)
    assert DailyFollow(store, crm, scheduler, horizon_days=5).follow(campaign, 5) == "last"
    assert fetches_now(client) == SOURCES
    assert due(client) == [], "no day after it"


def test_a_campaign_past_its_run_to_gets_its_last_day(client, scheduler, crm, store):
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    campaign = automated(crm, run_to=yesterday)
    assert DailyFollow(store, crm, scheduler, horizon_days=90).follow(campaign, 2) == "last"
    assert fetches_now(client) == SOURCES and due(client) == []


@pytest.mark.parametrize("through", ["platform", "hookrelay"])
def test_an_archived_campaign_is_no_longer_followed(client, scheduler, crm, store, through):
    campaign = automated(crm)
    if through == "platform":
        crm.campaign_action("automated", campaign.campaign_id, "archive")
    else:
        store.ensure_run(campaign, "started")
        store.set_state("crm", campaign.campaign_id, "archived")
    outcome = DailyFollow(store, crm, scheduler, horizon_days=90).follow(campaign, 2)
    assert "archived" in outcome
    assert fetches_now(client) == 0 and due(client) == []
