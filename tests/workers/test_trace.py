"""The delivery policy's trace against a real Redis: one entry per finished attempt,
an attempt under way shown as such, and a trace that cannot be written holding back
nothing."""

from __future__ import annotations

import dramatiq
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from workers.platforms.errors import ServerError
from workers.queue.policy import RetryPolicy
from workers.queue.retry import DeliveryPolicy
from workers.queue.routes import DEDUP_PREFIX, DEDUP_TTL_S
from workers.trace.archive import TraceArchive
from workers.trace.reader import TraceReader
from workers.trace.trace import EventTrace

POLICY = RetryPolicy(min_backoff_ms=100, max_backoff_ms=1000, max_age_ms=3_600_000)
FAILURE = ServerError(
    "unexpected answer", platform="crm", method="POST", url="http://x/", status=503, body="down"
)


class Broker:
    def __init__(self):
        self.enqueued = []

    def get_actor(self, name):
        raise dramatiq.errors.ActorNotFound(name)

    def enqueue(self, message, delay=None):
        self.enqueued.append(message)
        return message


def setup(client: redis.Redis, archive: TraceArchive, retention_s: int = 3600):
    policy = DeliveryPolicy(POLICY, dead_letters=None, trace=EventTrace(client, retention_s))
    reader = TraceReader(client, archive, dedup_prefix=DEDUP_PREFIX, dedup_ttl_s=DEDUP_TTL_S)
    message = dramatiq.Message("crm", "crm_post_event", ({"id": "ev-1"},), {}, {})
    return policy, reader, message


def test_an_attempt_under_way_then_its_outcome_in_one_entry(redis_url, trace_archive):
    client = redis.Redis.from_url(redis_url)
    policy, reader, message = setup(client, trace_archive)
    broker = Broker()
    policy.before_process_message(broker, message)
    assert reader.show("ev-1").state == "in_flight"
    policy.after_process_message(broker, message, exception=FAILURE)
    shown = reader.show("ev-1")
    assert shown.state == "retrying" and shown.next_attempt_at > shown.attempts[0]["at"]
    assert shown.attempts[0]["answer"] == "down" and shown.accepted_at is not None
    [retry] = broker.enqueued
    policy.before_process_message(broker, retry)
    policy.after_process_message(broker, retry)
    shown = reader.show("ev-1")
    assert [a["outcome"] for a in shown.attempts] == ["retried", "delivered"]
    assert [a["attempt"] for a in shown.attempts] == [1, 2]
    assert client.llen("hookrelay:trace:ev-1") == 2, "one entry per finished attempt"
    assert 3500 < client.ttl("hookrelay:trace:ev-1") <= 3600


def test_traces_off_write_nothing(redis_url, trace_archive):
    client = redis.Redis.from_url(redis_url)
    policy, reader, message = setup(client, trace_archive, retention_s=0)
    policy.before_process_message(Broker(), message)
    policy.after_process_message(Broker(), message)
    assert reader.show("ev-1") is None


def test_a_trace_redis_cannot_take_holds_back_no_delivery(redis_url):
    unreachable = redis.Redis(host="127.0.0.1", port=9, retry=Retry(NoBackoff(), 0))
    policy = DeliveryPolicy(POLICY, dead_letters=None, trace=EventTrace(unreachable, 3600))
    broker = Broker()
    message = dramatiq.Message("crm", "crm_post_event", ({"id": "ev-2"},), {}, {})
    policy.before_process_message(broker, message)
    policy.after_process_message(broker, message, exception=FAILURE)
    assert len(broker.enqueued) == 1, "retried all the same"


def test_a_wait_that_repeats_is_one_entry(redis_url, trace_archive):
    from workers.queue.policy import Postponed

    client = redis.Redis.from_url(redis_url)
    policy, reader, message = setup(client, trace_archive)
    broker = Broker()
    wait = Postponed("an earlier profile update of its user is not delivered yet", delay_ms=200)
    for _ in range(5):
        policy.before_process_message(broker, message)
        policy.after_process_message(broker, message, exception=wait)
        message = broker.enqueued[-1]
    policy.before_process_message(broker, message)
    policy.after_process_message(broker, message)
    shown = reader.show("ev-1")
    assert [a["outcome"] for a in shown.attempts] == ["postponed", "delivered"]
    assert shown.state == "delivered"


def test_a_redis_that_lost_the_script_gets_it_again_and_the_tail_once(redis_url):
    from workers.trace.tail import KEY as TAIL_KEY
    from workers.trace.trace import EventTrace

    client = redis.Redis.from_url(redis_url)
    trace = EventTrace(client, 3600)
    trace.add("hookrelay:trace:ev-1", {"at": 1, "do": "delivered"}, tail={"outcome": "a"})
    client.script_flush()
    trace.add("hookrelay:trace:ev-1", {"at": 2, "do": "delivered"}, tail={"outcome": "b"})
    assert client.llen("hookrelay:trace:ev-1") == 2
    assert [fields[b"outcome"] for _, fields in client.xrange(TAIL_KEY)] == [b"a", b"b"]


def test_the_receiver_trims_the_live_tail_to_its_last_minute(redis_url):
    from webhook.intake.queue import EventQueue
    from workers.trace.tail import KEY as TAIL_KEY

    client = redis.Redis.from_url(redis_url)
    for n in range(1, 301):  # requests accepted long ago (their ids left out)
        client.xadd(TAIL_KEY, {"outcome": "accepted", "events": "[]"}, id=f"{n}-0")
    event = {"id": "ev-tail", "type": "event", "user": {"uid": "u1"}, "name": "buy"}
    EventQueue(client).submit([event])
    entries = client.xrange(TAIL_KEY)
    assert len(entries) < 100, "whole nodes older than a minute are trimmed"
    assert b"ev-tail" in entries[-1][1][b"events"]
