"""With Redis gone the receiver answers 503, never 202; what it accepted survives a crash."""

from __future__ import annotations

import signal

import pytest

from webhook.app import create_app

from ..conftest import make_settings
from ..support import temporary_redis
from .test_events import AUTH, post, profile, written_ids
from .test_hooks import pre


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
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json == {"status": "unavailable", "redis": "unreachable", "store": "ok"}
    assert own_redis.url.partition("://")[2] not in ready.text, "no socket path"
    assert client.get("/healthz").status_code == 200

    own_redis.start()
    assert written_ids(own_redis.url) == ["before"]
    assert post(client, profile("during")).json == {"accepted": 1, "duplicates": 0}
    assert post(client, profile("before")).json == {"accepted": 0, "duplicates": 1}
    assert client.get("/readyz").status_code == 200


def test_pre_hooks_answer_503_while_redis_is_down_and_recover_on_the_first_call(own_redis):
    """The gate keeps a connection per thread; after a restart that connection is dead
    and Redis has forgotten the script, and the first hook must still be answered."""
    settings = make_settings(
        own_redis.url, HOOKRELAY_HOOK_USER="crm", HOOKRELAY_HOOK_PASSWORD="s3cret"
    )
    client = create_app(settings).test_client()
    client.post("/v1/suppressions", json={"email": "gone@example.com"}, headers=AUTH)
    assert pre(client, "stage=pre&email=a@example.com").json == {"allow": True}

    own_redis.kill()
    response = pre(client, "stage=pre&email=a@example.com")
    assert response.status_code == 503
    assert response.json["error"] == "unavailable"

    own_redis.start()
    assert pre(client, "stage=pre&email=gone@example.com").json["allow"] is False
    assert pre(client, "stage=pre&email=a@example.com").json == {"allow": True}

    own_redis.kill()
    own_redis.start()
    assert pre(client, "stage=pre&email=gone@example.com").json["allow"] is False


def test_a_stalled_redis_is_answered_as_ambiguous_and_a_retry_is_safe(own_redis):
    """Redis paused past the receiver's timeout may still run the write when it wakes:
    the 503 must not claim that nothing was accepted, and the retry must not double it."""
    client = create_app(make_settings(own_redis.url)).test_client()
    assert post(client, profile("warm-up")).status_code == 202
    own_redis.process.send_signal(signal.SIGSTOP)
    try:
        response = post(client, profile("stalled"))
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    assert response.status_code == 503
    assert "may or may not have been accepted" in response.json["message"]
    assert "same ids" in response.json["message"]
    answer = post(client, profile("stalled")).json
    assert answer["accepted"] + answer["duplicates"] == 1
    assert written_ids(own_redis.url).count("stalled") == 1
