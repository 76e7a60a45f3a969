"""REDIS_MIN_REPLICAS on a real primary and replica: a 202 means a replica has the
events; a replica that does not confirm in time turns the answer into a 503 (retry with
the same ids), and the workers confirm what they store before acknowledging."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import SkipMessage

from webhook.app import create_app
from workers.core.replication import NotReplicated, Replication
from workers.core.settings import load_settings
from workers.ops.doctor import check_replicas
from workers.queue import claims, policy, retry
from workers.queue.broker import SweepingRedisBroker
from workers.queue.deadletters import DeadLetterQueue

from ..conftest import TEST_DATABASE_URL, UNCALLED_PLATFORMS, make_settings
from ..support import API_KEY, wait_for
from ..topology import Topology
from ..webhook.test_hooks import HOOK_AUTH
from .test_deadletters import failed_message, rejected

EVENT = {
    "id": "r-1",
    "type": "event",
    "timestamp": "2026-11-23T10:00:00Z",
    "user": {"uid": "u1"},
    "name": "purchase",
}


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    servers = Topology(replicas=1, sentinels=1)
    yield servers
    servers.stop()


@pytest.fixture
def primary_url(topology: Topology) -> str:
    topology.primary.client().flushall()
    return f"redis://127.0.0.1:{topology.primary.port}/0"


#: How long a replica that is up may take to confirm: ``WAIT`` answers as soon as it
#: has, so this only bounds a failure, and a loaded machine (a replica fsyncing every
#: write beside other tests' servers) can take hundreds of milliseconds.
PATIENT_MS = 10_000
#: For a replica that cannot confirm (paused, or not there): any wait ends the same.
SHORT_MS = 200


def receiver(url: str, replicas: int, timeout_ms: int = PATIENT_MS):
    settings = make_settings(
        url, REDIS_MIN_REPLICAS=str(replicas), REDIS_REPLICA_TIMEOUT_MS=str(timeout_ms)
    )
    return create_app(settings).test_client()


def test_a_202_means_the_replica_has_the_events(topology, primary_url):
    client = receiver(primary_url, replicas=1)
    answer = client.post("/v1/events", json={"events": [EVENT]}, headers=auth())
    assert answer.status_code == 202, answer.text
    # Read the replica at once: WAIT returned only after it had the write.
    assert topology.replicas[0].client().exists("hookrelay:seen:r-1")


def test_a_replica_that_does_not_confirm_makes_it_a_503_to_retry(topology, primary_url):
    client = receiver(primary_url, replicas=1, timeout_ms=SHORT_MS)
    topology.replicas[0].pause()
    try:
        answer = client.post("/v1/events", json={"events": [EVENT]}, headers=auth())
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert "Retry it with the same ids" in answer.json["message"]
        segment = client.post(
            "/v1/track",
            json={"userId": "u2", "event": "E", "messageId": "m-1"},
            headers=auth(),
        )
        assert (segment.status_code, segment.json["code"]) == (503, "unavailable")
    finally:
        topology.replicas[0].resume()
    retried = receiver(primary_url, replicas=1).post(
        "/v1/events", json={"events": [EVENT]}, headers=auth()
    )
    # The primary had taken it: the retry is its duplicate, and now replicated.
    assert (retried.status_code, retried.json) == (202, {"accepted": 0, "duplicates": 1})


def test_a_forget_request_is_answered_once_a_replica_has_it(topology, primary_url):
    forget = {"user": {"uid": "r-9"}, "suppress": True}
    answer = receiver(primary_url, replicas=1).post("/v1/users/forget", json=forget, headers=auth())
    assert answer.status_code == 202, answer.text
    assert topology.replicas[0].client().exists(f"hookrelay:forget:{answer.json['id']}")
    topology.replicas[0].pause()
    try:
        again = {"user": {"uid": "r-10"}}
        unconfirmed = receiver(primary_url, replicas=1, timeout_ms=SHORT_MS).post(
            "/v1/users/forget", json=again, headers=auth()
        )
        assert unconfirmed.status_code == 503
    finally:
        topology.replicas[0].resume()


def test_without_min_replicas_a_paused_replica_changes_nothing(topology, primary_url):
    client = receiver(primary_url, replicas=0)
    topology.replicas[0].pause()
    try:
        answer = client.post("/v1/events", json={"events": [EVENT]}, headers=auth())
    finally:
        topology.replicas[0].resume()
    assert answer.status_code == 202


def test_confirm_waits_for_what_the_pool_wrote_on_another_connection(topology, primary_url):
    client = topology.primary.client()
    client.set("stored-retry", "1")
    Replication(replicas=1, timeout_ms=PATIENT_MS).confirm(client)
    assert topology.replicas[0].client().get("stored-retry") == "1"
    topology.replicas[0].pause()
    try:
        with pytest.raises(NotReplicated, match="0 of the 1 replicas"):
            Replication(replicas=1, timeout_ms=SHORT_MS).confirm(client)
    finally:
        topology.replicas[0].resume()
    assert Replication(replicas=0).confirm(client) is None, "off: never waits"


def test_more_replicas_required_than_exist_refuses_every_event(topology, primary_url):
    client = receiver(primary_url, replicas=2, timeout_ms=SHORT_MS)
    answer = client.post("/v1/events", json={"events": [EVENT]}, headers=auth())
    assert answer.status_code == 503


def test_sentinel_settings_are_read_and_checked():
    settings = load_settings(
        {
            "REDIS_SENTINELS": "10.0.0.1:26379, [::1]:26380",
            "REDIS_SENTINEL_MASTER": "queues",
            "REDIS_SENTINEL_PASSWORD": "s3cret",
            "REDIS_PASSWORD": "r3dis",
        }
    )
    assert settings.sentinel.addresses == (("10.0.0.1", 26379), ("::1", 26380))
    assert settings.redis_url == "redis+sentinel://10.0.0.1:26379,::1:26380/queues"
    assert not settings.embedded_redis
    assert {"s3cret", "r3dis"} <= set(settings.secrets())
    with pytest.raises(Exception, match="REDIS_SENTINELS"):
        load_settings({"REDIS_SENTINELS": "10.0.0.1"})
    with pytest.raises(Exception, match="REDIS_URL"):
        load_settings({"REDIS_SENTINELS": "10.0.0.1:26379", "REDIS_URL": "redis://x:6379"})


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


def test_doctor_counts_the_replicas_against_what_is_required(topology, primary_url):
    replication = topology.primary.client().info("replication")
    enough = make_settings(primary_url, REDIS_MIN_REPLICAS="1")
    [finding] = check_replicas(enough, replication)
    assert (finding.level, finding.text.split(",")[0]) == ("ok", "1 replicas online")
    [finding] = check_replicas(make_settings(primary_url, REDIS_MIN_REPLICAS="2"), replication)
    assert finding.level == "fail"
    assert "REDIS_MIN_REPLICAS=2: every event is refused" in finding.text


def test_a_worker_holds_a_dead_letter_until_a_replica_has_it(topology, primary_url, monkeypatch):
    """The original is acknowledged once this returns: not before a replica has the
    letter (the replica's link held, then let go)."""
    monkeypatch.setattr(retry, "REDIS_RETRY_S", 0.05)
    client = redis.Redis.from_url(primary_url)
    delivery = retry.DeliveryPolicy(
        policy.RetryPolicy(min_backoff_ms=10, max_backoff_ms=10, max_age_ms=60_000),
        DeadLetterQueue(client),
        confirm=partial(Replication(replicas=1, timeout_ms=100).confirm, client),
    )
    link = topology.links[0]
    link.hold()
    released = threading.Timer(0.8, link.release)
    released.start()
    message, started = failed_message("e-held"), time.monotonic()
    delivery.after_process_message(StubBroker(), message, exception=rejected())
    assert time.monotonic() - started >= 0.7, "returned before the replica had the letter"
    assert topology.replicas[0].client().zscore("hookrelay:dlq:index", message.message_id)


def test_through_sentinel_every_receiver_path_reaches_the_primary(topology):
    """Events, and pre-send hooks (which keep a connection per thread), land on the
    server Sentinel names, not on a default host."""
    topology.primary.client().flushall()
    settings = load_settings(
        {
            "REDIS_SENTINELS": topology.sentinel_addresses,
            "HOOKRELAY_API_KEYS": API_KEY,
            "DATABASE_URL": TEST_DATABASE_URL,
            "HOOKRELAY_HOOK_USER": "crm",
            "HOOKRELAY_HOOK_PASSWORD": "s3cret",
            **UNCALLED_PLATFORMS,
        }
    )
    client = create_app(settings).test_client()
    answer = client.post("/v1/events", json={"events": [EVENT]}, headers=auth())
    assert answer.status_code == 202, answer.text
    hook = client.post("/v1/hooks/crm?stage=pre&campaign_id=9093&uid=u-hook", headers=HOOK_AUTH)
    assert hook.status_code == 200, hook.text
    suppressed = client.post("/v1/suppressions", json={"uid": "u-hook"}, headers=auth())
    assert suppressed.status_code == 201, suppressed.text
    hook = client.post("/v1/hooks/crm?stage=pre&campaign_id=9093&uid=u-hook", headers=HOOK_AUTH)
    assert hook.json["allow"] is False, "the hook read the suppression on the primary"
    assert topology.primary.client().exists("hookrelay:seen:r-1")


def fetched(url: str) -> tuple[SweepingRedisBroker, object, object]:
    """A broker on ``url``, its consumer of ``crm``, and the message it fetched."""
    broker = SweepingRedisBroker(client=redis.Redis.from_url(url), middleware=[])
    broker.enqueue(
        dramatiq.Message(queue_name="crm", actor_name="a", args=(), kwargs={}, options={})
    )
    consumer = broker.consume("crm", prefetch=2)
    return broker, consumer, next(consumer)


def test_a_worker_delivers_only_once_a_replica_has_its_claim(topology, primary_url, monkeypatch):
    """Delivering a message whose fetch (or earlier acknowledgements) a replica lacks
    would deliver it again after a failover: the worker waits (the link held, then
    let go)."""
    monkeypatch.setattr(claims, "RETRY_S", 0.05)
    broker, _, message = fetched(primary_url)
    confirmed = claims.ConfirmedClaims(broker.client, Replication(replicas=1, timeout_ms=100))
    link = topology.links[0]
    link.hold()
    released = threading.Timer(0.8, link.release)
    released.start()
    started = time.monotonic()
    confirmed.before_process_message(broker, message)
    assert time.monotonic() - started >= 0.7, "delivered before the replica had the claim"
    replica = topology.replicas[0].client()
    assert replica.sismember(broker.held_key("crm"), message.options["redis_message_id"])


def test_a_claim_lost_with_the_old_primary_is_skipped_and_not_acknowledged(primary_url):
    """The successor still has the message queued and this worker fetches it again at
    once, with the same Redis id: the lost copy is skipped, and its acknowledgement
    must not take the claim (and data) of the copy now held."""
    broker, consumer, lost = fetched(primary_url)
    claim = lost.options["redis_message_id"]
    # What the promoted replica has: the fetch never reached it.
    broker.client.srem(broker.held_key("crm"), claim)
    broker.client.rpush("dramatiq:crm", claim)
    confirmed = claims.ConfirmedClaims(
        broker.client, Replication(replicas=1, timeout_ms=PATIENT_MS)
    )
    with pytest.raises(SkipMessage):
        confirmed.before_process_message(broker, lost)
    again = next(consumer)
    assert again.options["redis_message_id"] == claim
    consumer.ack(lost)  # what Dramatiq does with a skipped message
    confirmed.before_process_message(broker, again)  # still held: delivered once
    consumer.ack(again)
    assert not broker.client.hexists("dramatiq:crm.msgs", claim)


def test_a_skipped_lost_claim_frees_its_prefetch_slot(primary_url):
    """Another worker took the successor's copy: this consumer must go on fetching."""
    broker = SweepingRedisBroker(client=redis.Redis.from_url(primary_url), middleware=[])
    for number in range(2):
        broker.enqueue(
            dramatiq.Message(
                queue_name="crm", actor_name="a", args=(number,), kwargs={}, options={}
            )
        )
    consumer = broker.consume("crm", prefetch=1)
    lost = next(consumer)
    broker.client.srem(broker.held_key("crm"), lost.options["redis_message_id"])
    confirmed = claims.ConfirmedClaims(
        broker.client, Replication(replicas=1, timeout_ms=PATIENT_MS)
    )
    with pytest.raises(SkipMessage):
        confirmed.before_process_message(broker, lost)
    consumer.ack(lost)
    assert wait_for(lambda: next(consumer), timeout_s=5).args == (1,)
