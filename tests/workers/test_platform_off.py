"""A platform that is not configured is off: what would go to it is dead-lettered at
once, with the settings to give, and nothing is sent anywhere."""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.stub import StubBroker

from workers.actors import build_worker_hub, register
from workers.campaigns.schema import migrate
from workers.campaigns.store import Store
from workers.core.platform_settings import PLATFORM_VARIABLES
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.policy import RetryPolicy
from workers.queue.retry import DeliveryPolicy
from workers.queue.routes import FETCH_STATS, ROUTES

from ..conftest import make_settings

POLICY = RetryPolicy(min_backoff_ms=10, max_backoff_ms=100, max_age_ms=60_000)


def test_messages_for_a_platform_that_is_off_are_dead_lettered_saying_what_to_set(
    redis_url, tmp_path
):
    off = {name: "" for name in (*PLATFORM_VARIABLES["crm"], *PLATFORM_VARIABLES["pushwoosh"])}
    database_url = f"sqlite:///{tmp_path / 'stats.db'}"
    migrate(database_url)
    settings = make_settings(redis_url, DATABASE_URL=database_url, **off)
    assert settings.platforms_on == ("altcraft",)
    dead_letters = DeadLetterQueue(redis.Redis.from_url(redis_url))
    broker = StubBroker(middleware=[DeliveryPolicy(POLICY, dead_letters)])
    actors = register(broker, build_worker_hub(settings, Store(database_url)))
    event = {"id": "e1", "type": "event", "user": {"uid": "1"}, "name": "login", "payload": {}}
    actors[ROUTES["event"].actor_name].send(event)
    campaign = {"platform": "crm", "id": 9, "kind": "mailing", "pushwoosh_message_code": "X-1"}
    actors[FETCH_STATS.actor_name].send(campaign, "pushwoosh.totals")

    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join(ROUTES["event"].queue_name)
        broker.join(FETCH_STATS.queue_name)
        worker.join()
    finally:
        worker.stop()

    letters = {letter.actor: letter for letter in dead_letters.newest()}
    assert set(letters) == {"crm_post_event", "fetch_stats"}
    assert letters["crm_post_event"].attempts == 1, "not retried: it cannot succeed"
    assert letters["crm_post_event"].reason == (
        "permanent: crm is not configured: set CRM_BASE_URL, CRM_LOGIN, CRM_SECRET, then replay"
    )
    assert letters["crm_post_event"].error["error"] == "NotConfigured"
    assert "pushwoosh is not configured: set PUSHWOOSH_BASE_URL" in letters["fetch_stats"].reason
