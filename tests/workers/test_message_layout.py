"""Every script that enqueues writes what Dramatiq's own Redis consumer reads.

hookrelay writes Dramatiq messages from Lua (workers/queue/layout.lua). Each test
enqueues through one of those scripts and reads the message back with Dramatiq's
``RedisBroker``: a Dramatiq upgrade that changes its Redis layout fails here instead of
stranding messages in keys no worker reads.
"""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from webhook.intake.queue import EventQueue
from workers.campaigns.campaign import Campaign
from workers.campaigns.schedule import FollowupScheduler
from workers.campaigns.sources import scheduled_sources
from workers.profiles.buffer import ProfileBuffer
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.layout import NAMESPACE, MessageWriter
from workers.queue.routes import CAMPAIGN_ACTION, FETCH_STATS, PROFILE_BATCH, ROUTES

from .test_deadletters import failed_message, rejected

EVENT = {
    "id": "evt-1",
    "type": "event",
    "timestamp": "2026-11-23T10:00:00Z",
    "user": {"uid": "42"},
    "name": "login_user",
}
PROFILE = {
    "id": "evt-2",
    "type": "profile",
    "timestamp": "2026-11-23T10:00:00Z",
    "user": {"uid": "42"},
    "fields": {"level": 7},
}


def consumed(client: redis.Redis, queue_name: str, count: int) -> list[dramatiq.Message]:
    """``count`` messages of ``queue_name`` as a Dramatiq worker receives them, each
    acknowledged; the queue is then empty, hash and list alike."""
    broker = RedisBroker(client=client, namespace=NAMESPACE)
    broker.declare_queue(queue_name.removesuffix(".DQ"))
    consumer = broker.consume(queue_name, prefetch=count + 1, timeout=50)
    messages = []
    for _ in range(20 * (count + 1)):
        message = next(consumer)
        if message is not None:
            messages.append(message)
            consumer.ack(message)
        if len(messages) == count:
            break
    assert next(consumer) is None, "nothing more than was enqueued"
    consumer.close()
    key = f"{NAMESPACE}:{queue_name}"
    assert client.llen(key) == 0 and client.hlen(f"{key}.msgs") == 0
    return messages


def test_an_accepted_event(redis_url):
    client = redis.Redis.from_url(redis_url)
    EventQueue(client).submit([EVENT])
    [message] = consumed(client, "crm", 1)
    assert message.actor_name == ROUTES["event"].actor_name
    assert list(message.args) == [EVENT]
    assert message.options["redis_message_id"] == message.message_id


def test_a_campaign_action(redis_url):
    client = redis.Redis.from_url(redis_url)
    campaign = {"platform": "crm", "id": 9093, "kind": "mailing"}
    message_id = MessageWriter(client).send(CAMPAIGN_ACTION, (campaign, "pause"))
    [message] = consumed(client, "campaigns", 1)
    assert (message.message_id, message.actor_name) == (message_id, CAMPAIGN_ACTION.actor_name)
    assert list(message.args) == [campaign, "pause"]


def test_a_follow_up_schedule_is_delayed_messages(redis_url):
    client = redis.Redis.from_url(redis_url)
    campaign = Campaign("crm", 9093)
    FollowupScheduler(client, schedule_s=(30,)).ensure(campaign)
    messages = consumed(client, "stats.DQ", len(scheduled_sources()))
    assert {message.actor_name for message in messages} == {FETCH_STATS.actor_name}
    assert sorted(message.args[1] for message in messages) == sorted(scheduled_sources())
    assert all(message.options["eta"] > message.message_timestamp - 1 for message in messages)


def test_a_profile_flush(redis_url):
    client = redis.Redis.from_url(redis_url)
    EventQueue(client).submit([PROFILE])
    assert ProfileBuffer(client, batch_max=500, flush_ms=1).flush() == 1
    [message] = consumed(client, "crm", 1)
    assert message.actor_name == PROFILE_BATCH.actor_name
    assert message.args[0] == [{"uid": "42"}], "which profiles; each attempt reads their state"
    assert message.args[1]


def test_a_replayed_dead_letter(redis_url):
    client = redis.Redis.from_url(redis_url)
    dead_letters = DeadLetterQueue(client)
    letter = dead_letters.add(failed_message("e1"), reason="no", error=rejected(), attempts=1)
    assert dead_letters.replay(letter.id)
    [message] = consumed(client, "crm", 1)
    assert message.actor_name == "crm_post_event"
    assert message.args[0]["id"] == "e1"
