"""Above the high-water mark of Redis's maxmemory the receiver refuses new events with a
503 that says why, so the workers keep the room they need to drain the backlog."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import redis

from webhook.app import create_app
from webhook.hub import EXTENSION
from webhook.intake.headroom import Headroom

from ..conftest import make_settings
from ..support import temporary_redis
from .test_events import AUTH, profile


@pytest.fixture
def own_redis():
    with temporary_redis("hr-room-") as server:
        yield server


def test_new_events_are_refused_near_maxmemory_and_accepted_again_below(own_redis):
    client = redis.Redis.from_url(own_redis.url)
    app = create_app(make_settings(own_redis.url, REDIS_HIGH_WATER_PERCENT="80"))
    hub = app.extensions[EXTENSION]
    # Read Redis's memory on every request, not once a second, to see each change.
    headroom = Headroom(hub.redis, high_water_percent=80, interval_s=0)
    app.extensions[EXTENSION] = dataclasses.replace(hub, headroom=headroom)
    receiver = app.test_client()
    assert receiver.post("/v1/events", json=profile("a"), headers=AUTH).status_code == 202

    used = client.info("memory")["used_memory"]
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", int(used / 0.85))
    with contextlib.suppress(redis.exceptions.OutOfMemoryError):
        client.set("room", "x" * 1024)
    response = receiver.post("/v1/events", json=profile("b"), headers=AUTH)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    message = response.json["message"]
    assert message.startswith("Nothing was accepted: Redis holds")
    assert "refused from 80%" in message
    assert not client.exists("hookrelay:seen:b"), "nothing was written"

    client.config_set("maxmemory", used * 10)
    assert receiver.post("/v1/events", json=profile("b"), headers=AUTH).status_code == 202


def test_a_redis_without_maxmemory_is_never_refused(client):
    assert client.post("/v1/events", json=profile("c"), headers=AUTH).status_code == 202
