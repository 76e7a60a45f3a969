"""The outbox relay against a real Redis and a real RabbitMQ: every message moves
once, with its delay; a relay that dies holding a batch loses nothing; an outage keeps
the messages in Redis until RabbitMQ answers again."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from dramatiq import Message
from dramatiq.common import dq_name

from workers.queue.broker import SweepingRedisBroker
from workers.queue.relay import Relay

from ..rabbitmq import RABBITMQ_URL, proxy_to, purge, rabbitmq_or_skip
from ..support import wait_for


@pytest.fixture
def queue():
    """A queue name of this test's own, so the shared server's other queues are untouched."""
    return f"relay-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def rabbit(queue):
    broker = rabbitmq_or_skip()
    purge(broker, (queue,))
    yield broker
    for name in (queue, dq_name(queue), f"{queue}.XQ"):
        broker.channel.queue_delete(name)
    broker.close()


def outbox(redis_url: str, queue: str, heartbeat_ms: int = 30_000) -> SweepingRedisBroker:
    broker = SweepingRedisBroker(
        client=redis.Redis.from_url(redis_url), heartbeat_timeout=heartbeat_ms, middleware=[]
    )
    broker.declare_queue(queue)
    return broker


def write(box: SweepingRedisBroker, queue: str, count: int, *, delay_ms: int | None = None):
    """Write ``count`` messages the way the receiver does: into the Redis queue."""
    return [
        box.enqueue(Message(queue, "actor", (n,), {}, {}), delay=delay_ms) for n in range(count)
    ]


def relay_all(relay: Relay, rabbit) -> int:
    """Relay until the outbox is empty; how many messages moved."""
    moved = 0
    while passed := relay.relay_once(rabbit):
        moved += passed
    return moved


def drain(rabbit, queue: str) -> list[Message]:
    """Everything waiting in RabbitMQ's ``queue``, acknowledged."""
    messages = []
    while True:
        method, _, body = rabbit.channel.basic_get(queue, auto_ack=True)
        if method is None:
            return messages
        messages.append(Message.decode(body))


def outbox_size(box: SweepingRedisBroker, queue: str) -> int:
    client = box.client
    keys = [f"dramatiq:{name}.msgs" for name in (queue, dq_name(queue))]
    return sum(client.hlen(key) for key in keys)


def test_every_message_moves_once_and_delayed_ones_keep_their_eta(redis_url, rabbit, queue):
    box = outbox(redis_url, queue)
    sent = write(box, queue, 250)
    delayed = write(box, queue, 3, delay_ms=60_000)
    relay = Relay(box, queues=(queue,), batch=100)

    assert relay_all(relay, rabbit) == 253
    assert outbox_size(box, queue) == 0
    ready = drain(rabbit, queue)
    assert sorted(m.args[0] for m in ready) == list(range(250))
    assert {m.message_id for m in ready} == {m.message_id for m in sent}
    waiting = drain(rabbit, dq_name(queue))
    assert sorted(m.options["eta"] for m in waiting) == sorted(m.options["eta"] for m in delayed)


def test_a_relay_that_dies_holding_a_batch_loses_nothing(redis_url, rabbit, queue):
    write(outbox(redis_url, queue), queue, 40)
    dead = outbox(redis_url, queue, heartbeat_ms=300)
    assert len(dead.do_fetch(queue, 25)) == 25, "a relay took a batch, then died"
    alive = outbox(redis_url, queue, heartbeat_ms=300)
    relay = Relay(alive, queues=(queue,))

    assert relay_all(relay, rabbit) == 15
    time.sleep(0.4)
    alive.sweep()
    assert relay_all(relay, rabbit) == 25
    assert sorted(m.args[0] for m in drain(rabbit, queue)) == list(range(40))


def test_an_outage_keeps_messages_in_redis_until_rabbitmq_answers(redis_url, rabbit, queue):
    box = outbox(redis_url, queue)
    with proxy_to(RABBITMQ_URL) as proxy:
        through_proxy = rabbitmq_or_skip(proxy.url_for(RABBITMQ_URL))
        relay = Relay(box, queues=(queue,))
        relay.start(through_proxy)
        try:
            write(box, queue, 10)
            wait_for(lambda: outbox_size(box, queue) == 0, timeout_s=10)
            proxy.cut()
            write(box, queue, 30)
            time.sleep(1.5)
            assert outbox_size(box, queue) == 30, "nothing leaves Redis while RabbitMQ is away"
            proxy.restore()
            wait_for(lambda: outbox_size(box, queue) == 0, timeout_s=30)
        finally:
            relay.stop()
    assert sorted(m.args[0] for m in drain(rabbit, queue)) == sorted([*range(10), *range(30)])


def test_a_pass_cut_short_by_redis_strands_nothing_in_the_live_relay(redis_url, rabbit, queue):
    box = outbox(redis_url, queue)
    write(box, queue, 30)
    relay = Relay(box, queues=(queue,))
    real_ack, calls = box.do_ack, []

    def ack_that_times_out_once(name, message_id):
        calls.append(message_id)
        if len(calls) == 5:
            raise redis.TimeoutError("Timeout reading from socket")
        return real_ack(name, message_id)

    box.do_ack = ack_that_times_out_once
    with pytest.raises(redis.TimeoutError):
        relay.relay_once(rabbit)
    held = redis.Redis.from_url(redis_url).scard(f"dramatiq:__acks__.{box.broker_id}.{queue}")
    assert held == 26, "the rest of the batch is held by a relay that is alive"

    assert relay_all(relay, rabbit) == 26
    relayed = sorted(m.args[0] for m in drain(rabbit, queue))
    assert set(relayed) == set(range(30)), "every message moved"
    assert len(relayed) <= 31, "at most the one whose ack was lost moved twice"
