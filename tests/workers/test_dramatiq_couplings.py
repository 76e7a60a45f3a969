"""What the workers rely on in Dramatiq beyond its public API, one test each.

docs/architecture.md ("Dramatiq's internals") lists these couplings. Each test checks
the fact against Dramatiq's own, unextended ``RedisBroker``, so an upgrade that changes
one fails here, naming it, rather than in a delivery test or in production.
"""

from __future__ import annotations

import threading
import time
from importlib.resources import files

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import dq_name, q_name, xq_name
from dramatiq.errors import ConnectionClosed

from workers.queue.layout import (
    NAMESPACE,
    REDIS_ID,
    acks_prefix,
    heartbeats_key,
    is_delay_queue,
    messages_key,
    queue_key,
)

from ..support import temporary_redis


@pytest.fixture
def plain(redis_url):
    """Dramatiq's own broker on a clean database, with one queue."""
    client = redis.Redis.from_url(redis_url)
    broker = RedisBroker(client=client, middleware=[])
    broker.declare_queue("crm")
    return client, broker


def enqueued(broker: RedisBroker) -> dramatiq.Message:
    message = dramatiq.Message(queue_name="crm", actor_name="a", args=(), kwargs={}, options={})
    return broker.enqueue(message)


def test_a_message_lives_in_the_queue_list_and_the_messages_hash(plain):
    client, broker = plain
    message = enqueued(broker)
    redis_id = message.options[REDIS_ID]
    assert client.lrange(queue_key("crm"), 0, -1) == [redis_id.encode()]
    assert client.hexists(messages_key("crm"), redis_id)
    assert broker.namespace == NAMESPACE


def test_a_fetched_message_waits_in_the_workers_acknowledgement_set(plain):
    """The sweep returns a dead worker's messages from these sets; the backlog counts
    them as in flight; the heartbeat set says which workers are alive."""
    client, broker = plain
    message = enqueued(broker)
    consumer = broker.consume("crm", prefetch=1, timeout=100)
    fetched = next(consumer)
    assert fetched.options[REDIS_ID] == message.options[REDIS_ID]
    held = acks_prefix(broker.broker_id) + "crm"
    assert client.smembers(held) == {message.options[REDIS_ID].encode()}
    assert client.zscore(heartbeats_key(), broker.broker_id) is not None
    consumer.ack(fetched)
    assert client.scard(held) == 0


def test_a_rejected_message_goes_to_the_dead_queue_with_its_messages_hash(plain):
    """The sweep expires old entries of these queues, which Dramatiq itself only does
    in the maintenance the broker turns off."""
    client, broker = plain
    enqueued(broker)
    consumer = broker.consume("crm", prefetch=1, timeout=100)
    fetched = next(consumer)
    consumer.nack(fetched)
    dead = xq_name("crm")
    assert client.zcard(queue_key(dead)) == 1
    assert client.hexists(messages_key(dead), fetched.options[REDIS_ID])


def test_delay_queue_names():
    assert dq_name("crm") == "crm.DQ" and is_delay_queue("crm.DQ")
    assert q_name("crm.DQ") == "crm" and not is_delay_queue("crm")


def test_maintenance_is_one_overridable_method_with_a_command_argument():
    """SweepingRedisBroker turns Dramatiq's random maintenance off by overriding it."""
    assert callable(RedisBroker._should_do_maintenance)
    assert list(RedisBroker._should_do_maintenance.__code__.co_varnames[:2]) == [
        "self",
        "command",
    ]


def test_the_dispatch_script_is_a_file_the_broker_loads_as_its_dispatch(plain):
    """SweepingRedisBroker loads it again, allowed to run above maxmemory."""
    _, broker = plain
    script = files("dramatiq.brokers").joinpath("redis", "dispatch.lua")
    assert script.is_file()
    assert "dispatch" in broker.scripts
    assert callable(broker.do_ack) and callable(broker.do_requeue)


def test_the_consumer_frees_a_prefetch_slot_through_queued_message_ids(plain):
    """A message left unacknowledged for another worker frees its slot this way."""
    _, broker = plain
    consumer = broker.consume("crm", prefetch=1, timeout=100)
    assert isinstance(consumer, _RedisConsumer)
    assert isinstance(consumer.queued_message_ids, set)


def test_an_ack_turns_a_refused_connection_into_connection_closed():
    """The consumer's acknowledgement retry catches that, besides Redis's own errors."""
    with temporary_redis("hr-couple-") as server:
        broker = RedisBroker(client=redis.Redis.from_url(server.url), middleware=[])
        broker.declare_queue("crm")
        enqueued(broker)
        consumer = broker.consume("crm", prefetch=1, timeout=100)
        fetched = next(consumer)
        server.kill()
        time.sleep(0.05)
        with pytest.raises(ConnectionClosed):
            consumer.ack(fetched)


def test_the_worker_thread_acknowledges_through_the_dispatch_script_after_its_hooks(plain):
    """Held writes (workers/queue/held.py) ride with the acknowledgement: it must be the
    processing thread's own dispatch call, once every ``after_process_message`` hook ran."""
    _, broker = plain
    calls: list[tuple[str, int]] = []

    class Hooks(dramatiq.Middleware):
        def after_process_message(self, broker, message, *, result=None, exception=None):
            calls.append(("after_process_message", threading.get_ident()))

    dispatch = broker.scripts["dispatch"]

    def recording(keys=(), args=(), client=None):
        calls.append((args[0], threading.get_ident()))
        return dispatch(keys=keys, args=args, client=client)

    broker.scripts["dispatch"] = recording
    broker.add_middleware(Hooks())

    @dramatiq.actor(broker=broker, queue_name="crm")
    def a() -> None:
        pass

    a.send()
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join("crm", timeout=10_000)  # a failure, not a hang
    finally:
        worker.stop()
    names = [name for name, _ in calls]
    assert names.count("after_process_message") == 1 and names.count("ack") == 1
    hooks, ack = names.index("after_process_message"), names.index("ack")
    assert ack > hooks, "acknowledged after the hooks"
    assert calls[ack][1] == calls[hooks][1], "by the thread that processed it"
