"""The platform's echo of a batch upsert leaves out undeclared fields: each dropped
field is counted by name, logged once an hour, and shown on /status."""

from __future__ import annotations

import logging

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker

from webhook.app import create_app
from workers.actors import build_worker_hub, register
from workers.campaigns.schema import migrate
from workers.campaigns.store import Store
from workers.profiles.dropped import DroppedFields, dropped_fields
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.policy import RetryPolicy
from workers.queue.retry import DeliveryPolicy
from workers.queue.routes import PROFILE_BATCH, PROFILE_HASHMAPS

from ..conftest import make_settings
from ..support import Sandbox
from ..webhook.test_events import AUTH


def test_dropped_fields_are_matched_by_position_or_by_identifiers():
    sent = [{"uid": "1", "fields": {"a": 1, "b": 2}}, {"email": "x@e.com", "fields": {"a": 3}}]
    echo = [{"uid": "1", "fields": {"a": 1}}, {"email": "x@e.com", "fields": {}}]
    assert dropped_fields(sent, echo) == {"a": 1, "b": 1}
    assert dropped_fields(sent, echo[:1]) == {"b": 1}, "by identifiers when counts differ"
    assert dropped_fields(sent, None) == {} and dropped_fields(sent, {"ok": 1}) == {}


@pytest.fixture(scope="module")
def declaring_sandbox():
    """A platform whose project declares only the field ``level``."""
    sandbox = Sandbox("--declared-fields", "level")
    yield sandbox
    sandbox.stop()


def test_a_batch_upsert_counts_each_field_the_platform_dropped(
    declaring_sandbox, redis_url, tmp_path, caplog
):
    database_url = f"sqlite:///{tmp_path / 'stats.db'}"
    migrate(database_url)
    settings = make_settings(
        redis_url, DATABASE_URL=database_url, **declaring_sandbox.platform_env()
    )
    client = redis.Redis.from_url(redis_url)
    broker = StubBroker(
        middleware=[DeliveryPolicy(RetryPolicy(10, 50, 60_000), DeadLetterQueue(client))]
    )
    actors = register(broker, build_worker_hub(settings, Store(database_url)))
    worker = dramatiq.Worker(broker, worker_timeout=20)
    worker.start()
    caplog.set_level(logging.WARNING, logger="workers.profiles.dropped")
    try:
        for n in range(2):
            hashmaps = [{"uid": f"u{n}", "fields": {"level": 1, "levle": 2, "vip": True}}]
            actors[PROFILE_HASHMAPS.actor_name].send(hashmaps)
            broker.join(PROFILE_BATCH.queue_name)
            worker.join()
    finally:
        worker.stop()

    assert [(name, count) for name, count, _ in DroppedFields(client).read()] == [
        ("levle", 2),
        ("vip", 2),
    ]
    warnings = [r.getMessage() for r in caplog.records if "dropped the profile field" in r.message]
    assert len(warnings) == 2, "one line per field name per hour, not per batch"
    assert all("True" not in line and "2" not in line for line in warnings), "no values"

    page = create_app(settings).test_client().get("/status", headers=AUTH).get_data(as_text=True)
    assert 'data-field="levle"' in page and 'data-field="vip"' in page
