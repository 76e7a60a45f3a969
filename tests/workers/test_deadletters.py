"""The dead-letter queue on a real Redis: kept with reasons, replayed exactly once."""

from __future__ import annotations

import contextlib
import threading
import time

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker

from workers.platforms import errors
from workers.queue.archive import DeadLetterArchive
from workers.queue.deadletters import DeadLetterQueue

from ..support import temporary_redis
from .stores import postgres_store, sqlite_store


def failed_message(event_id: str) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name="crm.DQ",
        actor_name="crm_post_event",
        args=({"id": event_id, "type": "event", "user": {"email": "a@example.com"}},),
        kwargs={},
        options={"redis_message_id": "r1", "retries": 3, "eta": 123, "traceback": "..."},
    )


def rejected() -> errors.Rejected:
    return errors.Rejected(
        "unexpected answer",
        platform="crm",
        method="POST",
        url="http://x/api/v1/events/",
        status=400,
        body='{"detail": "bad"}',
    )


def test_entries_keep_their_reason_and_list_newest_first(redis_url):
    dlq = DeadLetterQueue(redis.Redis.from_url(redis_url))
    first = dlq.add(failed_message("e1"), reason="permanent: ...", error=rejected(), attempts=1)
    dlq.add(failed_message("e2"), reason="permanent: ...", error=rejected(), attempts=4)
    assert [letter.event_id for letter in dlq.newest()] == ["e2", "e1"]
    shown = dlq.show(first.id)
    assert shown.queue == "crm"
    assert shown.error == {
        "error": "Rejected",
        "message": str(rejected()),
        "platform": "crm",
        "status": 400,
        "body": '{"detail": "bad"}',
        "url": "http://x/api/v1/events/",
    }
    assert "message" not in shown.summary()
    assert dlq.count() == 2


def test_replay_re_enqueues_a_fresh_message_once(redis_url):
    client = redis.Redis.from_url(redis_url)
    dlq = DeadLetterQueue(client)
    letter = dlq.add(failed_message("e1"), reason="r", error=rejected(), attempts=3)

    assert dlq.replay(letter.id) is True
    assert dlq.replay(letter.id) is False, "a letter is replayed at most once"
    assert dlq.count() == 0
    [message_id] = client.lrange("dramatiq:crm", 0, -1)
    message = dramatiq.Message.decode(client.hget("dramatiq:crm.msgs", message_id))
    assert message.args[0]["id"] == "e1"
    assert message.queue_name == "crm"
    assert message.options == {"redis_message_id": message_id.decode()}


def test_replay_all_and_purge(redis_url):
    client = redis.Redis.from_url(redis_url)
    dlq = DeadLetterQueue(client)
    for i in range(3):
        dlq.add(failed_message(f"e{i}"), reason="r", error=rejected(), attempts=1)
    assert dlq.replay_all() == 3
    assert client.llen("dramatiq:crm") == 3
    dlq.add(failed_message("e9"), reason="r", error=rejected(), attempts=1)
    assert dlq.purge() == 1
    assert dlq.newest() == []


def test_a_full_redis_delays_the_dead_letter_and_never_loses_it(monkeypatch):
    """With ``maxmemory`` reached and ``noeviction``, storing the outcome fails with
    OutOfMemoryError: it is tried again until Redis has room, never given up on (giving
    up would let Dramatiq acknowledge a message stored nowhere)."""
    from workers.queue import policy, retry

    monkeypatch.setattr(retry, "REDIS_RETRY_S", 0.05)
    with temporary_redis("hr-full-") as server:
        client = redis.Redis.from_url(server.url)
        used = client.info("memory")["used_memory"]
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", used + 1024)
        with contextlib.suppress(redis.exceptions.OutOfMemoryError):
            for n in range(1000):
                client.set(f"filler:{n}", "x" * 1024)
        delivery = retry.DeliveryPolicy(
            policy.RetryPolicy(min_backoff_ms=10, max_backoff_ms=10, max_age_ms=60_000),
            DeadLetterQueue(client),
        )
        threading.Timer(0.5, client.config_set, ("maxmemory", 0)).start()
        broker = StubBroker(middleware=[])
        delivery.after_process_message(broker, failed_message("e-full"), exception=rejected())
        assert [letter.event_id for letter in DeadLetterQueue(client).newest()] == ["e-full"]


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request, tmp_path):
    stores = sqlite_store(tmp_path) if request.param == "sqlite" else postgres_store()
    yield DeadLetterArchive(next(stores).engine)
    next(stores, None)


def test_past_the_redis_cap_letters_go_to_sql_and_stay_one_queue(redis_url, archive):
    client = redis.Redis.from_url(redis_url)
    dead_letters = DeadLetterQueue(client, overflow=archive, redis_cap=2)
    letters = []
    for n in range(5):
        letters.append(
            dead_letters.add(failed_message(f"e{n}"), reason="no", error=rejected(), attempts=1)
        )
        time.sleep(0.002)  # distinct failure times, for the order
    assert client.zcard("hookrelay:dlq:index") == 2, "Redis holds no more than the cap"
    assert archive.count() == 3
    assert dead_letters.count() == 5
    assert [letter.event_id for letter in dead_letters.newest(4)] == ["e4", "e3", "e2", "e1"]
    assert dead_letters.show(letters[4].id).summary() == letters[4].summary()

    assert dead_letters.replay(letters[4].id), "a letter in SQL replays"
    assert not dead_letters.replay(letters[4].id), "once"
    [data] = client.hvals("dramatiq:crm.msgs")
    assert dramatiq.Message.decode(data).args[0]["id"] == "e4"
    assert dead_letters.count() == 4

    assert dead_letters.replay_all() == 4
    assert client.llen("dramatiq:crm") == 5
    assert dead_letters.count() == 0


def test_purge_empties_both_places(redis_url, archive):
    dead_letters = DeadLetterQueue(redis.Redis.from_url(redis_url), overflow=archive, redis_cap=1)
    for n in range(3):
        dead_letters.add(failed_message(f"e{n}"), reason="no", error=rejected(), attempts=1)
    assert dead_letters.purge() == 3
    assert dead_letters.count() == 0 and dead_letters.newest() == []
