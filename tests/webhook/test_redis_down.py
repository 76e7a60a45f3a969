"""With Redis gone the receiver answers 503, never 202; what it accepted survives a crash."""

from __future__ import annotations

import pytest

from webhook import create_app

from ..conftest import make_settings
from ..support import temporary_redis
from .test_events import post, profile, written_ids


@pytest.fixture
def own_redis():
    with temporary_redis("hr-down-") as server:
        yield server


def test_503_while_redis_is_down_and_accepted_events_survive_kill_9(own_redis):
    client = create_app(make_settings(own_redis.url)).test_client()
    assert post(client, profile("before")).status_code == 202

    own_redis.kill()
    for body in (profile("during"), {"events": [profile("d1"), profile("d2")]}):
        response = post(client, body)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json["error"] == "unavailable"
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200

    own_redis.start()
    assert written_ids(own_redis.url) == ["before"]
    assert post(client, profile("during")).json == {"accepted": 1, "duplicates": 0}
    assert post(client, profile("before")).json == {"accepted": 0, "duplicates": 1}
    assert client.get("/readyz").status_code == 200
