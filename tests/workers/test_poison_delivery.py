"""A message no platform can take ends in the dead-letter queue at once, and holds back
nothing else: a refused batch is split until only the refused profile is left."""

from __future__ import annotations

import json

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker

from workers.actors import build_worker_hub, register
from workers.campaigns.schema import migrate
from workers.campaigns.store import Store
from workers.core.platform_settings import CrmConfig
from workers.platforms import errors
from workers.platforms.crm import CrmClient
from workers.profiles import buffer
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.policy import RetryPolicy
from workers.queue.retry import DeliveryPolicy
from workers.queue.routes import FETCH_STATS, PROFILE_BATCH, PROFILE_HASHMAPS, REBUFFER

from ..conftest import make_settings
from .test_profile_buffer import batch_messages

POLICY = RetryPolicy(min_backoff_ms=10, max_backoff_ms=50, max_age_ms=60_000)


def test_a_value_the_client_cannot_encode_is_permanent_and_nothing_is_sent(clean_sandbox):
    config = CrmConfig(
        base_url=f"{clean_sandbox.url}/crm", login="sandbox", secret="sandbox-secret"
    )
    client = CrmClient(config)
    for poison in (float("inf"), "a\ud800"):
        with pytest.raises(errors.Unsendable) as caught:
            client.upsert_profiles([{"uid": "1", "fields": {"x": poison}}])
        assert isinstance(caught.value, errors.PermanentError)
    assert clean_sandbox.received() == []


@pytest.fixture
def worker_on(redis_url, clean_sandbox, tmp_path):
    """Actors on a stub broker, our delivery policy, the sandbox and a real Redis."""
    database_url = f"sqlite:///{tmp_path / 'stats.db'}"
    migrate(database_url)
    settings = make_settings(redis_url, DATABASE_URL=database_url, **clean_sandbox.platform_env())
    dead_letters = DeadLetterQueue(redis.Redis.from_url(redis_url))
    broker = StubBroker(middleware=[DeliveryPolicy(POLICY, dead_letters)])
    actors = register(broker, build_worker_hub(settings, Store(database_url)))
    worker = dramatiq.Worker(broker, worker_timeout=20)
    worker.start()

    def run_until_done(*queues: str) -> DeadLetterQueue:
        for _ in range(3):
            for queue in queues:
                broker.join(queue)
            worker.join()
        return dead_letters

    yield actors, run_until_done
    worker.stop()


def test_a_replayed_never_ready_source_polls_afresh(worker_on, clean_sandbox, redis_url):
    actors, run_until_done = worker_on
    clean_sandbox.knobs(report_not_ready=1)
    campaign = {"platform": "crm", "id": 9093, "kind": "mailing"}
    actors[FETCH_STATS.actor_name].send_with_options(
        args=(campaign, "crm.report"), kwargs={"step": 0, "state": {}, "polls": 30}
    )
    dead_letters = run_until_done(FETCH_STATS.queue_name)
    [letter] = dead_letters.newest()
    assert "still not ready after 30 polls" in letter.reason
    assert dead_letters.replay(letter.id)
    client = redis.Redis.from_url(redis_url)
    [data] = client.hvals("dramatiq:stats.msgs")
    replayed = dramatiq.Message.decode(data)
    assert "polls" not in replayed.kwargs and "state" not in replayed.kwargs
    assert replayed.kwargs["step"] == 0


def buffered(uid: str, second: int, fields: str) -> bytes:
    """A pending profile update as the receiver writes it; ``fields`` is raw JSON, so
    that it can hold a value no platform request can carry (``Infinity``)."""
    return (
        f'1 {{"id": "u{uid}-{second}", "type": "profile", "user": {{"uid": "{uid}"}}, '
        f'"timestamp": "2026-11-23T10:00:{second:02d}Z", "fields": {fields}}}'
    ).encode()


def flush_and_deliver(flushing, client: redis.Redis, actors, run_until_done) -> DeadLetterQueue:
    """Flush, hand the batches queued in Redis to the stub broker's worker, run them."""
    flushing.flush()
    for message in batch_messages(client):
        actors[message.actor_name].send_with_options(args=message.args, kwargs=message.kwargs)
    return run_until_done(PROFILE_BATCH.queue_name)


def test_a_refused_profile_is_dead_lettered_alone_and_loses_only_the_refused_values(
    worker_on, clean_sandbox, redis_url
):
    actors, run_until_done = worker_on
    client = redis.Redis.from_url(redis_url)
    pending = f"{buffer.BUFFER}:pending"
    client.rpush(pending, *(buffered(str(n), 1, f'{{"n": {n}}}') for n in range(7)))
    client.rpush(pending, buffered("bad", 1, '{"x": Infinity, "z": 1}'))
    flushing = buffer.ProfileBuffer(client, batch_max=500, flush_ms=1)
    [letter] = flush_and_deliver(flushing, client, actors, run_until_done).newest()
    assert sorted(p["uid"] for p in clean_sandbox.profiles()) == [str(n) for n in range(7)]
    [[refused]] = letter.message["args"]
    assert (refused["uid"], sorted(refused["fields"])) == ("bad", ["x", "z"]), "kept to replay"
    assert letter.message["kwargs"] == {}
    assert letter.reason.startswith("permanent:")
    assert flushing.flush() == 0, "a refused profile is not sent again on its own"

    client.rpush(pending, buffered("bad", 2, '{"y": 2}'))
    flush_and_deliver(flushing, client, actors, run_until_done)
    [profile] = [p for p in clean_sandbox.profiles() if p["uid"] == "bad"]
    assert profile["fields"] == {"y": 2}, "the refused values do not come back"
    assert len(DeadLetterQueue(client).newest()) == 1


def test_a_batch_queued_by_an_earlier_release_is_sent_as_it_is(worker_on, clean_sandbox):
    actors, run_until_done = worker_on
    hashmaps = [{"uid": str(n), "fields": {"n": n}} for n in range(3)]
    actors[PROFILE_HASHMAPS.actor_name].send([*hashmaps, {"fields": {"n": -1}}])
    [letter] = run_until_done(PROFILE_BATCH.queue_name).newest()
    assert sorted(p["uid"] for p in clean_sandbox.profiles()) == ["0", "1", "2"]
    assert letter.message["args"] == [[{"fields": {"n": -1}}]]


def test_a_replayed_unmergeable_update_goes_back_to_the_buffer(worker_on, redis_url):
    actors, run_until_done = worker_on
    client = redis.Redis.from_url(redis_url)
    update = {"id": "p1", "type": "profile", "timestamp": "bad", "user": {"uid": "7"}}
    client.rpush(f"{buffer.BUFFER}:pending", json.dumps(update))
    flushing = buffer.ProfileBuffer(client, batch_max=500, flush_ms=1)
    assert flushing.flush() == 0
    dead_letters = DeadLetterQueue(client)
    [letter] = dead_letters.newest()
    assert (letter.event_id, letter.actor) == ("p1", REBUFFER.actor_name)

    assert dead_letters.replay(letter.id)
    [data] = client.hvals("dramatiq:crm.msgs")
    replayed = dramatiq.Message.decode(data)
    assert replayed.actor_name == REBUFFER.actor_name
    actors[REBUFFER.actor_name].send(*replayed.args)  # as a worker takes it from Redis
    run_until_done(REBUFFER.queue_name)
    assert client.lrange(f"{buffer.BUFFER}:pending", 0, -1) == [json.dumps(update).encode()]
    assert client.sismember(f"{buffer.BUFFER}:identities", "uid:7")
