"""Delays past the horizon wait in Redis's due set, not in a delay queue's consumer, and
come back to their delay queue, once, in Dramatiq's own layout, when they fall due."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from dramatiq import Message
from dramatiq.common import dq_name

from workers.campaigns.campaign import Campaign
from workers.campaigns.schedule import FollowupScheduler
from workers.campaigns.sources import scheduled_sources
from workers.queue.broker import SweepingRedisBroker
from workers.queue.due import DueSet
from workers.queue.layout import redis_message
from workers.queue.relay import Relay
from workers.queue.routes import FETCH_STATS

from ..rabbitmq import purge, rabbitmq_or_skip
from .test_message_layout import consumed


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def client(redis_url) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_schedule_steps_past_the_horizon_wait_in_the_due_set(client):
    sources = scheduled_sources()
    FollowupScheduler(client, schedule_s=(30, 300), horizon_s=60).ensure(Campaign("crm", 1))
    soon = consumed(client, "stats.DQ", len(sources))
    assert {m.kwargs["step"] for m in soon} == {0}
    due = DueSet(client, horizon_s=60)
    assert len(due) == len(sources)

    assert due.promote() == 0, "nothing is due within the horizon yet"
    assert due.promote(now_ms() + 241_000) == len(sources)
    later = consumed(client, "stats.DQ", len(sources))
    assert {m.kwargs["step"] for m in later} == {1}
    assert all(m.options["eta"] > now_ms() + 230_000 for m in later), "eta kept"
    assert len(due) == 0 and due.promote(now_ms() + 10**9) == 0


def test_a_long_delay_is_deferred_and_a_short_one_goes_to_the_delay_queue(client):
    broker = SweepingRedisBroker(client=client, middleware=[], delay_horizon_s=60)
    broker.declare_queue("crm")
    short = broker.enqueue(Message("crm", "crm_post_event", (1,), {}, {}), delay=5_000)
    long = broker.enqueue(Message("crm", "crm_post_event", (2,), {}, {}), delay=300_000)
    assert len(broker.due) == 1
    [waiting] = consumed(client, "crm.DQ", 1)
    assert waiting.message_id == short.message_id

    broker.sweep()
    assert len(broker.due) == 1, "a sweep promotes only what is due within the horizon"
    broker.due.promote(now_ms() + 300_000)
    [promoted] = consumed(client, "crm.DQ", 1)
    assert (promoted.message_id, promoted.args) == (long.message_id, (2,))
    assert promoted.options["redis_message_id"] == long.options["redis_message_id"]


def test_a_message_deferred_twice_is_kept_once(client):
    message_id, data = redis_message(FETCH_STATS, ({}, "crm.reports"), eta_ms=now_ms() + 10**6)
    message = Message.decode(data)
    due = DueSet(client)
    due.defer(message)
    due.defer(message)
    assert len(due) == 1
    assert due.promote(now_ms() + 10**6) == 1
    assert [m.message_id for m in consumed(client, "stats.DQ", 1)] == [message_id]


def test_the_relay_defers_a_long_delay_instead_of_publishing_it(client, redis_url):
    queue = f"due-test-{uuid.uuid4().hex[:8]}"
    rabbit = rabbitmq_or_skip()
    purge(rabbit, (queue,))
    try:
        outbox = SweepingRedisBroker(client=client, middleware=[], delay_horizon_s=60)
        outbox.declare_queue(queue)
        relay = Relay(outbox, queues=(queue,))
        # Written straight to the delay queue, as before the due set existed.
        message = Message(dq_name(queue), "actor", (1,), {}, {})
        message = message.copy(options={"redis_message_id": "m1", "eta": now_ms() + 3_600_000})
        outbox.do_enqueue(dq_name(queue), "m1", message.encode())

        assert relay.relay_once(rabbit) == 1
        assert rabbit.get_queue_message_counts(queue)[1] == 0, "nothing in RabbitMQ's delay queue"
        assert len(outbox.due) == 1

        # An hour on, the same message is due within the horizon: a two-hour one here.
        later = SweepingRedisBroker(client=client, middleware=[], delay_horizon_s=7200)
        later.declare_queue(queue)
        assert later.due.promote() == 1
        assert Relay(later, queues=(queue,)).relay_once(rabbit) == 1
        assert rabbit.get_queue_message_counts(queue)[1] == 1
    finally:
        for name in (queue, dq_name(queue), f"{queue}.XQ"):
            rabbit.channel.queue_delete(name)
        rabbit.close()
