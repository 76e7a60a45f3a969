"""The broker's own additions, on a real Redis."""

from __future__ import annotations

import signal
import threading
import time

import dramatiq
import dramatiq.broker
import pytest
import redis
from dramatiq.errors import ConnectionClosed

from workers.queue.broker import SweepingRedisBroker
from workers.queue.sweeper import EXIT_CONSUMER_DIED, Sweeper
from workers.ratelimit.limiter import SharedRateLimiter

from ..support import temporary_redis, wait_for


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


def dead_worker_holding(client: redis.Redis, broker: SweepingRedisBroker, queue: str, n: int):
    """``n`` messages of ``queue`` fetched by a worker that then died (heartbeat long ago)."""
    dead = SweepingRedisBroker(client=client, middleware=[])
    for number in range(n):
        dead.enqueue(
            dramatiq.Message(
                queue_name=queue, actor_name="a", args=(number,), kwargs={}, options={}
            )
        )
    dead.do_fetch(queue, n)
    client.zadd("dramatiq:__heartbeats__", {dead.broker_id: 1})
    return dead


def test_a_sweep_returns_a_dead_workers_messages_without_scanning_the_keyspace(redis_url):
    client = redis.Redis.from_url(redis_url)
    live = SweepingRedisBroker(client=client, middleware=[])
    live.declare_queue("crm")
    dead = dead_worker_holding(client, live, "crm", 3)
    dead_worker_holding(client, live, "legacy", 2)  # a queue this broker does not know
    client.execute_command("SADD", f"dramatiq:__acks__.{dead.broker_id}.legacy", "gone")
    client.mset({f"hookrelay:seen:{n}": 1 for n in range(2000)})
    client.config_resetstat()

    assert live.sweep() == 3 + 2
    assert "cmdstat_keys" not in client.info("commandstats"), "KEYS blocks every client"
    assert client.llen("dramatiq:crm") == 3 and client.llen("dramatiq:legacy") == 2
    assert not client.keys("dramatiq:__acks__.*")
    assert client.zscore("dramatiq:__heartbeats__", dead.broker_id) is None
    assert client.zscore("dramatiq:__heartbeats__", live.broker_id) is not None


def test_after_redis_was_away_no_peer_is_dead_until_each_could_heartbeat(redis_url):
    """Through a Redis pause no worker heartbeats: the first sweep after it must not
    take a live peer's messages (they would be delivered twice)."""
    client = redis.Redis.from_url(redis_url)
    live = SweepingRedisBroker(client=client, middleware=[], heartbeat_timeout=300)
    live.declare_queue("crm")
    peer = dead_worker_holding(client, live, "crm", 3)  # its heartbeat stale, as after a pause
    heartbeat = live._heartbeat

    def away(**_):
        raise redis.ConnectionError("Redis is paused")

    live._heartbeat = away
    with pytest.raises(redis.ConnectionError):
        live.sweep()
    live._heartbeat = heartbeat
    assert live.sweep() == 0, "Redis was away: a stale heartbeat proves nothing yet"
    time.sleep(0.35)  # a whole timeout of this broker's own heartbeats
    client.zadd("dramatiq:__heartbeats__", {peer.broker_id: int(time.time() * 1000)})
    assert live.sweep() == 0, "the peer heartbeat again: alive"
    client.zadd("dramatiq:__heartbeats__", {peer.broker_id: 1})
    assert live.sweep() == 3, "silent while this broker kept heartbeating: dead"


def test_a_live_broker_never_runs_dramatiqs_own_maintenance(redis_url):
    client = redis.Redis.from_url(redis_url)
    broker = SweepingRedisBroker(client=client, middleware=[])
    assert not any(broker._should_do_maintenance("fetch") for _ in range(10_000))


def test_old_entries_of_dramatiqs_dead_message_queues_expire(redis_url):
    client = redis.Redis.from_url(redis_url)
    broker = SweepingRedisBroker(client=client, middleware=[], dead_message_ttl=1000)
    broker.declare_queue("crm")
    client.zadd("dramatiq:crm.XQ", {"old": 1, "new": time.time() * 1000})
    client.hset("dramatiq:crm.XQ.msgs", mapping={"old": "x", "new": "y"})
    broker.sweep()
    assert client.zrange("dramatiq:crm.XQ", 0, -1) == [b"new"]
    assert client.hkeys("dramatiq:crm.XQ.msgs") == [b"new"]


def test_a_restarted_consumer_returns_its_prefetch_but_not_what_threads_process(redis_url):
    client = redis.Redis.from_url(redis_url)
    broker = SweepingRedisBroker(client=client, middleware=[])
    broker.declare_queue("crm")
    for number in range(5):
        message = dramatiq.Message(
            queue_name="crm", actor_name="a", args=(number,), kwargs={}, options={}
        )
        broker.enqueue(message)
    first = broker.consume("crm", prefetch=5)
    processing = next(first)  # handed to a worker thread; four more wait in the prefetch
    held = f"dramatiq:__acks__.{broker.broker_id}.crm"
    assert client.scard(held) == 5

    second = broker.consume("crm", prefetch=5)  # what Dramatiq does after an error
    assert client.scard(held) == 1, "only the one a thread is processing is still held"
    assert client.llen("dramatiq:crm") == 4
    second.ack(processing)
    assert client.scard(held) == 0


def held_message(queue_name: str) -> dramatiq.broker.MessageProxy:
    return dramatiq.broker.MessageProxy(
        dramatiq.Message(
            queue_name=queue_name,
            actor_name="a",
            args=(),
            kwargs={},
            options={"redis_message_id": "x"},
        )
    )


def test_a_redis_that_stops_answering_is_a_connection_error_the_thread_survives():
    with temporary_redis("hr-pause-") as server:
        client = redis.Redis.from_url(server.url, socket_timeout=0.3)
        broker = SweepingRedisBroker(client=client, middleware=[])
        broker.declare_queue("stats")
        consumer = broker.consume("stats.DQ")
        server.process.send_signal(signal.SIGSTOP)
        try:
            for step in (lambda: next(consumer), lambda: consumer.requeue([held_message("x")])):
                with pytest.raises(ConnectionClosed):
                    step()
        finally:
            server.process.send_signal(signal.SIGCONT)


@pytest.mark.parametrize("away", ["paused", "gone"])
def test_an_acknowledgement_waits_for_redis_until_the_worker_is_asked_to_stop(away):
    """Dramatiq's consumer thread retries a failed acknowledgement every 5 s and never
    gives up, so a worker asked to stop while Redis is away (paused: a timeout; gone: a
    refused connection, which Dramatiq's own ack turns into ``ConnectionClosed``) would
    be killed by its process manager."""
    with temporary_redis("hr-ack-") as server:
        client = redis.Redis.from_url(server.url, socket_timeout=0.3)
        broker = SweepingRedisBroker(client=client, middleware=[])
        broker.declare_queue("crm")
        consumer = broker.consume("crm")
        if away == "paused":
            server.process.send_signal(signal.SIGSTOP)
        else:
            server.kill()
        try:
            acking = threading.Thread(target=consumer.ack, args=(held_message("crm"),))
            acking.start()
            acking.join(1.5)
            assert acking.is_alive(), "an acknowledgement waits for Redis, as Dramatiq's does"
            broker.stopping.set()
            acking.join(3)
            assert not acking.is_alive(), "until the worker is asked to stop"
        finally:
            server.process.send_signal(signal.SIGCONT)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_whose_consumer_thread_died_ends_instead_of_heartbeating(redis_url):
    client = redis.Redis.from_url(redis_url)
    broker = SweepingRedisBroker(client=client, middleware=[])
    exits = []
    sweeper = Sweeper(broker, interval_s=3600, exit=exits.append)
    broker.add_middleware(sweeper)
    dramatiq.actor(lambda: None, actor_name="noop", queue_name="crm", broker=broker)
    consume = broker.consume

    def consume_or_die(queue_name, *args, **kwargs):
        if queue_name == "crm":
            raise SystemExit  # ends the thread: Dramatiq catches only Exception
        return consume(queue_name, *args, **kwargs)

    broker.consume = consume_or_die
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        wait_for(lambda: not worker.consumers["crm"].is_alive(), timeout_s=10)
        assert sweeper.dead_consumers() == ["crm"]
        sweeper.tick(broker)
        assert exits == [EXIT_CONSUMER_DIED], "the process ends; the sweep did not run"
    finally:
        worker.stop()
    assert sweeper.dead_consumers() == [], "a consumer asked to stop is not dead"


def test_a_redis_above_maxmemory_still_drains(tmp_path):
    """With noeviction, a Redis above maxmemory refuses scripts that may write; a
    worker's fetch, ack, retry, heartbeat and rate-limit stamp are all scripts, so a
    Redis that filled up would never drain. They run anyway; only growth is refused."""
    with temporary_redis() as server:
        client = redis.Redis.from_url(server.url)
        broker = SweepingRedisBroker(client=client, middleware=[])
        broker.declare_queue("crm")
        for n in range(3):
            broker.enqueue(dramatiq.Message("crm", "a", (n,), {}, {}))
        limiter = SharedRateLimiter(client, "crm", rate=5)
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", client.info("memory")["used_memory"] // 2)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            client.set("growth", "x")

        consumer = broker.consume("crm", prefetch=1, timeout=100)
        first = next(consumer)
        assert first is not None, "fetched"
        broker.enqueue(first.copy(), delay=1000)  # its retry, stored
        consumer.ack(first)
        limiter.sent(limiter.acquire())
        broker.sweep()
        consumer.close()
        assert client.llen("dramatiq:crm") == 2 and client.llen("dramatiq:crm.DQ") == 1
        assert client.zscore("dramatiq:__heartbeats__", broker.broker_id), "heartbeat written"
