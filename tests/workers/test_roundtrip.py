"""Held writes (workers/core/roundtrip.py), on a real Redis: a worker thread's writes
nobody waits for go with its next round trip or at its message's end, each failure to
its own handler, never to the call it rode with."""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker
from redis.backoff import ConstantBackoff, NoBackoff
from redis.retry import Retry

from workers.core import roundtrip
from workers.core.lua import ScriptCall
from workers.core.roundtrip import Held
from workers.queue.broker import SweepingRedisBroker
from workers.queue.held import HeldWrites

from ..support import temporary_redis

SET = "redis.call('set', KEYS[1], ARGV[1]) return ARGV[1]"
FAIL = "return redis.error_reply('refused')"


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    """A client whose Redis has the tests' scripts (a round trip counts only its own)."""
    client = redis.Redis.from_url(redis_url)
    for script in (SET, FAIL):
        client.script_load(script)
    return client


@pytest.fixture(autouse=True)
def not_holding() -> Iterator[None]:
    yield
    roundtrip.flush()


class Outcomes:
    """What each held write was told."""

    def __init__(self) -> None:
        self.answers: list = []
        self.errors: list[Exception] = []

    def held(self, call: ScriptCall) -> Held:
        return Held(call, self.errors.append, self.answers.append)


def setting(client: redis.Redis, key: str, value: str) -> ScriptCall:
    return ScriptCall(client.register_script(SET), [key], [value])


def round_trips(client: redis.Redis, action) -> int:
    """How many round trips ``client`` made while ``action`` ran: each takes a
    connection from its pool, a script call as a pipeline."""
    pool = client.connection_pool
    taken = []
    original = pool.get_connection

    def counting(*args, **kwargs):
        taken.append(1)
        return original(*args, **kwargs)

    pool.get_connection = counting  # type: ignore[method-assign]
    try:
        action()
    finally:
        pool.get_connection = original  # type: ignore[method-assign]
    return len(taken)


def test_a_thread_that_does_not_hold_writes_at_once(client, redis_url):
    other = redis.Redis.from_url(redis_url, db=1)
    outcomes = Outcomes()
    roundtrip.later(
        outcomes.held(setting(client, "a", "1")), outcomes.held(setting(other, "b", "2"))
    )
    assert client.get("a") == b"1"
    assert other.get("b") == b"2"  # each on its own client
    assert outcomes.answers == [b"1", b"2"]


def test_held_writes_ride_with_the_next_call_in_its_round_trip(client):
    outcomes = Outcomes()
    roundtrip.hold()
    roundtrip.later(
        outcomes.held(setting(client, "a", "1")), outcomes.held(setting(client, "b", "2"))
    )
    assert client.exists("a", "b") == 0

    answers = []
    sent = round_trips(
        client, lambda: answers.extend(roundtrip.run_together([setting(client, "c", "3")]))
    )

    assert sent == 1
    assert answers == [b"3"]
    assert client.mget("a", "b", "c") == [b"1", b"2", b"3"]
    assert outcomes.answers == [b"1", b"2"]
    assert round_trips(client, roundtrip.flush) == 0  # nothing left


def test_flush_writes_what_is_held_and_stops_holding(client):
    outcomes = Outcomes()
    roundtrip.hold()
    roundtrip.later(outcomes.held(setting(client, "a", "1")))
    roundtrip.flush()
    assert client.get("a") == b"1"
    roundtrip.later(outcomes.held(setting(client, "b", "2")))
    assert client.get("b") == b"2"


def test_a_held_write_that_fails_is_told_and_the_call_it_rode_with_is_not(client):
    outcomes = Outcomes()
    roundtrip.hold()
    roundtrip.later(outcomes.held(ScriptCall(client.register_script(FAIL), ["x"], [])))
    assert roundtrip.run_together([setting(client, "c", "3")]) == [b"3"]
    assert [str(error) for error in outcomes.errors] == ["refused"]


def test_writes_held_for_another_client_wait_for_the_flush(client, redis_url):
    other = redis.Redis.from_url(redis_url)
    outcomes = Outcomes()
    roundtrip.hold()
    roundtrip.later(outcomes.held(setting(other, "a", "1")))
    roundtrip.run_together([setting(client, "c", "3")])
    assert client.get("a") is None
    roundtrip.flush()
    assert client.get("a") == b"1"


def test_scripts_redis_lost_are_loaded_again(client):
    outcomes = Outcomes()
    held, call = setting(client, "a", "1"), setting(client, "c", "3")
    roundtrip.run_together([held, call])  # both known to Redis, then lost
    client.script_flush()
    roundtrip.hold()
    roundtrip.later(outcomes.held(held))
    assert roundtrip.run_together([call]) == [b"3"]
    assert outcomes.answers == [b"1"] and not outcomes.errors
    assert client.get("a") == b"1"


def test_a_round_trip_redis_was_too_slow_for_is_tried_again_as_the_clients_retry_says():
    with temporary_redis("hr-roundtrip-") as server:
        quick = redis.Redis.from_url(
            server.url, socket_timeout=0.2, retry=Retry(ConstantBackoff(0.2), 5)
        )
        quick.script_load(SET)
        outcomes = Outcomes()
        roundtrip.hold()
        roundtrip.later(outcomes.held(setting(quick, "a", "1")))
        redis.Redis.from_url(server.url).client_pause(600)  # the first try times out
        assert roundtrip.run_together([setting(quick, "c", "3")]) == [b"3"]
        assert outcomes.answers == [b"1"] and not outcomes.errors


def test_redis_away_tells_every_held_write_and_raises_to_the_caller(client):
    outcomes = Outcomes()
    gone = redis.Redis(port=1, retry=Retry(NoBackoff(), 0))  # nothing listens there
    roundtrip.hold()
    roundtrip.later(outcomes.held(setting(gone, "a", "1")))
    with pytest.raises(redis.ConnectionError):
        roundtrip.run_together([setting(gone, "c", "3")])
    assert len(outcomes.errors) == 1
    assert isinstance(outcomes.errors[0], redis.ConnectionError)
    roundtrip.later(outcomes.held(setting(gone, "b", "2")))  # still holding
    roundtrip.flush()
    assert len(outcomes.errors) == 2


class SeenAtAck(dramatiq.Middleware):
    """What ``key`` held in Redis just before and just after each acknowledgement."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client, self.key, self.seen = client, key, []

    def before_ack(self, broker, message) -> None:
        self.seen.append(("before ack", self.client.get(self.key)))

    def after_ack(self, broker, message) -> None:
        self.seen.append(("after ack", self.client.get(self.key)))


def process_one(broker: dramatiq.Broker, client: redis.Redis) -> list:
    """Send one message whose actor holds a write of ``k``; what the actor saw of it."""
    outcomes, seen = Outcomes(), []

    @dramatiq.actor(broker=broker)
    def deliver(value: str) -> None:
        roundtrip.later(outcomes.held(setting(client, "k", value)))
        seen.append(client.get("k"))  # held while the message runs

    broker.declare_queue(deliver.queue_name)
    deliver.send("1")
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join(deliver.queue_name, timeout=10_000)  # a failure, not a hang
    finally:
        worker.stop()
    assert outcomes.errors == []
    return seen


def test_where_acknowledgements_cannot_carry_them_held_writes_go_just_before(client):
    at_ack = SeenAtAck(client, "k")
    broker = StubBroker(middleware=[HeldWrites(acks_carry=False), at_ack])
    assert process_one(broker, client) == [None]
    assert at_ack.seen == [("before ack", b"1"), ("after ack", b"1")]


def test_a_redis_acknowledgement_carries_its_messages_held_writes(client):
    at_ack = SeenAtAck(client, "k")
    broker = SweepingRedisBroker(
        client=client, middleware=[HeldWrites(acks_carry=True), at_ack], idle_poll_ms=10
    )
    assert process_one(broker, client) == [None]
    # Still held when the acknowledgement left, written when it returned: one round trip.
    assert at_ack.seen == [("before ack", None), ("after ack", b"1")]
    assert client.scard(f"dramatiq:__acks__.{broker.broker_id}.default") == 0
