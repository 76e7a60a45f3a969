"""The broker's own additions, on a real Redis."""

from __future__ import annotations

import dramatiq
import redis

from workers.queue.broker import SweepingRedisBroker


def test_a_restarted_delay_consumer_returns_what_its_predecessor_held(redis_url):
    client = redis.Redis.from_url(redis_url)
    broker = SweepingRedisBroker(client=client, middleware=[])
    message = dramatiq.Message(queue_name="crm", actor_name="a", args=(), kwargs={}, options={})
    broker.enqueue(message, delay=60_000)

    first = broker.consume("crm.DQ")
    assert next(first) is not None, "fetched into this worker's unacknowledged set"
    held = f"dramatiq:__acks__.{broker.broker_id}.crm.DQ"
    assert client.scard(held) == 1
    assert client.llen("dramatiq:crm.DQ") == 0

    broker.consume("crm.DQ")  # what Dramatiq does after a connection error
    assert client.scard(held) == 0
    assert client.llen("dramatiq:crm.DQ") == 1, "back on the delay queue"
