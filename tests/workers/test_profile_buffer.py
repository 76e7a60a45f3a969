"""The profile buffer on a real Redis: flushes, triggers, dead flushers, the lock."""

from __future__ import annotations

import json
import time

import dramatiq
import pytest
import redis

from webhook.app import create_app
from workers.profiles import buffer as profiles
from workers.profiles.buffer import BUFFER, ProfileBuffer
from workers.profiles.order import AFTER_PREFIX, ORDER_PREFIX, EventOrder
from workers.profiles.states import STATE_PREFIX
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.routes import DEDUP_PREFIX, DEDUP_TTL_S, PROFILE_BATCH
from workers.trace.mover import TraceMover
from workers.trace.reader import TraceReader
from workers.trace.trace import EventTrace, trace_key

from ..conftest import make_settings
from ..webhook.test_events import post


def update(event_id: str, uid: str, second: int, **fields) -> dict:
    return {
        "id": event_id,
        "type": "profile",
        "timestamp": stamp(second),
        "user": {"uid": uid},
        "fields": fields,
    }


def stamp(second: int) -> str:
    return f"2026-11-23T10:00:{second:02d}Z"


@pytest.fixture
def receiver(redis_url):
    return create_app(make_settings(redis_url)).test_client()


def batch_messages(client: redis.Redis) -> list[dramatiq.Message]:
    """The batch messages flushes queued, oldest first; the queue is emptied."""
    ids = client.lrange("dramatiq:crm", 0, -1)
    messages = [dramatiq.Message.decode(client.hget("dramatiq:crm.msgs", i)) for i in ids]
    client.delete("dramatiq:crm", "dramatiq:crm.msgs")
    return [m for m in messages if m.actor_name == PROFILE_BATCH.actor_name]


def sent(client: redis.Redis, buffer: ProfileBuffer, *, acknowledge: bool = True):
    """What the queued batches send, as a worker would attempt them; each attempt is
    acknowledged as if the platform took it."""
    batches = []
    for message in batch_messages(client):
        attempt = buffer.attempt(*message.args)
        batches.append(attempt.hashmaps)
        if acknowledge:
            buffer.acknowledge(attempt)
    return batches


def test_flush_turns_updates_into_one_hashmap_per_profile(receiver, redis_url):
    client = redis.Redis.from_url(redis_url)
    post(
        receiver,
        {
            "events": [
                update("a", "1", 5, x="new"),
                update("b", "1", 1, x="old", y=1),
                update("c", "2", 3, x="two"),
            ]
        },
    )
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=1000)
    assert buffer.flush() == 1
    [batch] = sent(client, buffer)
    assert sorted(batch, key=lambda h: h["uid"]) == [
        {
            "uid": "1",
            "fields": {"x": "new", "y": 1},
            "update_profile_last_updated_at": "2026-11-23T10:00:05Z",
        },
        {
            "uid": "2",
            "fields": {"x": "two"},
            "update_profile_last_updated_at": "2026-11-23T10:00:03Z",
        },
    ]
    saved = json.loads(client.get(f"{BUFFER}:state:uid:1"))
    assert saved["fields"]["y"] == [1, "2026-11-23T10:00:01Z"]
    assert saved["acked"] == [] and saved["owner"]
    assert client.llen(f"{BUFFER}:pending") == 2, "the two acknowledgements"

    post(receiver, update("d", "1", 0, z="late"))
    assert buffer.flush() == 1
    [[later]] = sent(client, buffer)
    assert later["fields"] == {"z": "late"}, "only what changed since the acknowledged batch"
    stamp = later["update_profile_last_updated_at"]
    assert stamp == "2026-11-23T10:00:05.001000Z", "strictly later than the acknowledged one"
    buffer.flush()
    saved = json.loads(client.get(f"{BUFFER}:state:uid:1"))
    assert saved["acked"] == ["x", "y", "z"] and "owner" not in saved
    assert client.llen(f"{BUFFER}:pending") == 0
    assert not client.exists(f"{BUFFER}:identities", f"{BUFFER}:since")


def test_due_by_size_or_by_age(receiver, redis_url):
    buffer = ProfileBuffer(redis.Redis.from_url(redis_url), batch_max=3, flush_ms=300)
    assert not buffer.due()
    post(receiver, {"events": [update("a", "1", 1), update("b", "1", 2), update("c", "2", 3)]})
    assert not buffer.due(), "two profiles waiting, for less than flush_ms"
    post(receiver, update("d", "3", 4))
    assert buffer.due(), "three profiles waiting"
    buffer.flush()
    post(receiver, update("e", "4", 5))
    assert not buffer.due()
    time.sleep(0.35)
    assert buffer.due(), "the oldest update waited flush_ms"


def test_a_dead_flushers_claim_is_put_back_and_its_late_commit_refused(receiver, redis_url):
    client = redis.Redis.from_url(redis_url)
    post(receiver, {"events": [update("a", "1", 1, x=1), update("b", "2", 2, x=2)]})
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=1000)
    script = client.register_script(profiles._SCRIPT)
    assert len(script(keys=[BUFFER], args=["claim", "dead", 1000])) == 2
    post(receiver, update("c", "3", 3, x=3))

    assert buffer.reap(older_than_s=60) == 0, "a fresh claim is left alone"
    time.sleep(0.05)
    assert buffer.reap(older_than_s=0.01) == 1
    pending = [profiles.parse_item(i)["id"] for i in client.lrange(f"{BUFFER}:pending", 0, -1)]
    assert pending == ["a", "b", "c"], "put back at the head, in order"
    assert script(keys=[BUFFER], args=["commit", "dead", "dramatiq", "crm", 0, 60]) == 0

    buffer.flush()
    assert sorted(h["uid"] for h in sent(client, buffer)[0]) == ["1", "2", "3"]


def test_only_one_flush_at_a_time(receiver, redis_url):
    client = redis.Redis.from_url(redis_url)
    post(receiver, update("a", "1", 1))
    client.set(f"{BUFFER}:lock", "someone-else")
    assert ProfileBuffer(client, batch_max=500, flush_ms=1000).flush() == 0
    assert client.llen(f"{BUFFER}:pending") == 1


def flush_two_good_profiles(receiver, client: redis.Redis) -> ProfileBuffer:
    """Post two good updates beside whatever poison the test planted, flush once, and
    check both went out in one batch with nothing left claimed or pending."""
    post(receiver, {"events": [update("a", "1", 5, x="new"), update("c", "2", 3, x="two")]})
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=1000)
    assert buffer.flush() == 1
    [batch] = sent(client, buffer, acknowledge=False)
    assert {h["uid"]: h["fields"] for h in batch} == {"1": {"x": "new"}, "2": {"x": "two"}}
    assert client.llen(f"{BUFFER}:pending") == 0 and client.zcard(f"{BUFFER}:claims") == 0
    return buffer


UNREADABLE_STATES = [
    b"{not json",
    b'{"ids": 5}',
    b'{"ids": {}, "fields": [1]}',
    b'{"ids": {"uid": "1"}, "fields": {"x": ["v", "not a time"]}, "sent": null}',
    b'{"ids": {"uid": "1"}, "fields": {}, "sent": 5}',
]


@pytest.mark.parametrize("saved", UNREADABLE_STATES)
def test_an_unreadable_saved_state_does_not_hold_back_the_flush(receiver, redis_url, saved):
    """A saved state that cannot be read (corrupt, or written by another release) is
    ignored: its profile goes out as a new one, and the others of the claim with it."""
    client = redis.Redis.from_url(redis_url)
    client.set(f"{STATE_PREFIX}uid:1", saved)
    flush_two_good_profiles(receiver, client)


POISON = {"id": "p-bad", "type": "profile", "timestamp": "not a time", "user": {"uid": "9"}}


def test_an_update_that_cannot_be_merged_is_dead_lettered_and_the_rest_go_out(receiver, redis_url):
    """One poison update in a claim used to fail the claim at every flush, forever,
    holding back every profile behind it. Now it alone is dead-lettered, once."""
    client = redis.Redis.from_url(redis_url)
    client.rpush(f"{BUFFER}:pending", json.dumps(POISON), b"{not json")
    buffer = flush_two_good_profiles(receiver, client)
    letters = DeadLetterQueue(client).newest()
    assert sorted(str(letter.message["args"][0]) for letter in letters) == sorted(
        [str(POISON), "{not json"]
    )
    assert {letter.event_id for letter in letters} == {"p-bad", None}
    assert buffer.flush() == 0, "nothing is left to fail again"


def test_a_profile_is_saved_once_and_found_by_any_of_its_identifiers(receiver, redis_url):
    client = redis.Redis.from_url(redis_url)
    first = update("a", "1", 1, level=1)
    first["user"] = {"uid": "1", "email": "one@example.com", "phone": "79160000001"}
    post(receiver, {"events": [first]})
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=1000)
    assert buffer.flush() == 1
    home = json.loads(client.get(f"{STATE_PREFIX}uid:1"))
    assert home["fields"]["level"][0] == 1
    assert client.get(f"{STATE_PREFIX}email:one@example.com") == b"@uid:1"
    assert client.get(f"{STATE_PREFIX}phone:79160000001") == b"@uid:1"

    later = update("b", "1", 2, vip=True)
    later["user"] = {"email": "one@example.com"}
    post(receiver, {"events": [later]})
    sent(client, buffer)
    assert buffer.flush() == 1
    [[hashmap]] = sent(client, buffer)
    assert hashmap["fields"] == {"vip": True}, "merged onto the saved, acknowledged state"
    assert hashmap["uid"] == "1" and hashmap["phone"] == "79160000001"


def test_a_pointer_to_a_state_that_is_gone_counts_as_no_state(receiver, redis_url):
    client = redis.Redis.from_url(redis_url)
    client.set(f"{STATE_PREFIX}uid:5", b"@email:gone@example.com")
    post(receiver, {"events": [update("a", "5", 1, x=1)]})
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=1000)
    assert buffer.flush() == 1
    [[hashmap]] = sent(client, buffer)
    assert hashmap["fields"] == {"x": 1}


def test_a_profile_waits_for_its_unacknowledged_batch_whose_retry_sends_the_newest(
    receiver, redis_url
):
    client = redis.Redis.from_url(redis_url)
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=1000)
    post(receiver, {"events": [update("a", "1", 1, x="old"), update("b", "2", 1, x="two")]})
    buffer.flush()
    [first] = batch_messages(client)
    refs, batch = first.args

    post(receiver, {"events": [update("c", "1", 2, x="new", y=1), update("d", "3", 2, x=3)]})
    assert buffer.flush() == 1, "a batch for profile 3 only: 1 and 2 are in one already"
    [other] = batch_messages(client)
    assert [ref["uid"] for ref in other.args[0]] == ["3"]

    retried = buffer.attempt(refs, batch)  # the first batch failed; its retry rebuilds
    assert sorted((h["uid"], h["fields"]) for h in retried.hashmaps) == [
        ("1", {"x": "new", "y": 1}),
        ("2", {"x": "two"}),
    ]
    buffer.acknowledge(retried)
    assert buffer.flush() == 0, "everything it holds was acknowledged"


def test_an_acknowledgement_of_older_values_sends_the_newer_ones_next(receiver, redis_url):
    client = redis.Redis.from_url(redis_url)
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=1000)
    post(receiver, update("a", "1", 1, x="old", y=1))
    buffer.flush()
    [message] = batch_messages(client)
    attempt = buffer.attempt(*message.args)
    post(receiver, update("b", "1", 2, x="new"))
    assert buffer.flush() == 0, "held back while its batch is in flight"
    buffer.acknowledge(attempt)  # of x="old", y=1
    assert buffer.flush() == 1
    assert sent(client, buffer) == [
        [{"uid": "1", "fields": {"x": "new"}, "update_profile_last_updated_at": stamp(2)}]
    ]


def test_a_dead_lettered_batch_lets_go_and_its_replay_sends_the_newest(receiver, redis_url):
    client = redis.Redis.from_url(redis_url)
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=1000)
    post(receiver, update("a", "1", 1, x="old"))
    buffer.flush()
    [message] = batch_messages(client)
    refs, batch = message.args
    buffer.release(buffer.attempt(refs, batch), refused=False)  # retries ran out
    assert buffer.flush() == 0, "let go, not resent on its own"

    post(receiver, update("b", "1", 2, y=2))
    assert buffer.flush() == 1
    assert sent(client, buffer)[0][0]["fields"] == {"x": "old", "y": 2}, "all not acknowledged"

    post(receiver, update("c", "1", 3, x="newest"))
    buffer.flush()
    [queued] = batch_messages(client)
    buffer.release(buffer.attempt(*queued.args), refused=False)
    buffer.flush()
    assert buffer.attempt(refs, batch).profiles == [], "the replay owns nothing"
    assert buffer.flush() == 1, "but it nudged the profile"
    assert sent(client, buffer)[0][0]["fields"] == {"x": "newest"}


def order_of(client: redis.Redis, key: str) -> dict:
    return {k.decode(): int(v) for k, v in client.hgetall(f"{ORDER_PREFIX}{key}").items()}


def test_an_event_waits_for_the_profile_updates_of_its_user_accepted_before_it(receiver, redis_url):
    client = redis.Redis.from_url(redis_url)
    buffer = ProfileBuffer(client, batch_max=500, flush_ms=1000)
    order = EventOrder(client)
    track = {"type": "event", "name": "paid", "user": {"uid": "1"}, "timestamp": stamp(9)}
    post(receiver, {"events": [{**track, "id": "early"}, update("p", "1", 1, x=1)]})
    post(receiver, {"events": [{**track, "id": "late"}, {**track, "id": "other"}]})
    client.hdel(f"{AFTER_PREFIX}other", "uid:1")
    assert order.ready("early"), "accepted before the profile update"
    assert not order.ready("late")
    assert order.ready("other") and order.ready("unknown")

    buffer.flush()
    [message] = batch_messages(client)
    attempt = buffer.attempt(*message.args)
    post(receiver, update("q", "1", 2, x=2))
    assert not order.ready("late")
    buffer.acknowledge(attempt)
    assert order.ready("late"), "its update is acknowledged; a later one does not count"
    assert not client.exists(f"{AFTER_PREFIX}late")
    assert order_of(client, "uid:1")["open"] > order_of(client, "uid:1")["acked"]
    buffer.flush()
    sent(client, buffer)
    assert not client.exists(f"{ORDER_PREFIX}uid:1"), "nothing open: nothing kept"


def test_an_event_waits_for_an_update_of_its_user_earlier_in_the_same_request(receiver, redis_url):
    client = redis.Redis.from_url(redis_url)
    track = {"type": "event", "name": "paid", "user": {"uid": "1"}, "timestamp": stamp(9)}
    first, second = update("p", "1", 1, x=1), update("q", "1", 2, x=2)
    post(
        receiver, {"events": [first, {**track, "id": "between"}, second, {**track, "id": "after"}]}
    )
    numbers = [int(item.split(b" ")[0]) for item in client.lrange(f"{BUFFER}:pending", 0, -1)]
    assert numbers[1] == numbers[0] + 1
    assert order_of(client, "uid:1") == {"open": numbers[1]}, "the newest update is open"
    waits = {name: client.hgetall(f"{AFTER_PREFIX}{name}") for name in ("between", "after")}
    assert waits == {
        "between": {b"uid:1": str(numbers[0]).encode()},
        "after": {b"uid:1": str(numbers[1]).encode()},
    }


def test_ordering_off_records_nothing(redis_url):
    client = redis.Redis.from_url(redis_url)
    receiver = create_app(make_settings(redis_url, EVENTS_AFTER_PROFILES="false")).test_client()
    track = {"type": "event", "id": "e", "name": "paid", "user": {"uid": "1"}}
    post(receiver, {"events": [update("p", "1", 1, x=1), {**track, "timestamp": stamp(2)}]})
    assert not client.keys(f"{ORDER_PREFIX}*") and not client.keys(f"{AFTER_PREFIX}*")


def test_an_update_behind_a_batch_in_flight_is_traced_to_the_batch_it_goes_out_in(
    receiver, redis_url, trace_archive
):
    client = redis.Redis.from_url(redis_url)
    buffer = ProfileBuffer(
        client, batch_max=500, flush_ms=1000, trace=EventTrace(client, retention_s=3600)
    )
    traces = TraceReader(client, trace_archive, dedup_prefix=DEDUP_PREFIX, dedup_ttl_s=DEDUP_TTL_S)
    post(receiver, update("a", "1", 1, x="old"))
    buffer.flush()
    [message] = batch_messages(client)
    first = message.args[1]
    attempt = buffer.attempt(message.args[0], first)
    post(receiver, update("b", "1", 2, x="new"))
    buffer.flush()
    assert traces.show("b").batch["id"] == first and traces.show("b").batch["behind"]
    buffer.acknowledge(attempt)  # of x="old" only
    assert buffer.flush() == 1
    [following] = batch_messages(client)
    shown = traces.show("b").batch
    assert shown["id"] == following.args[1] != first and not shown["behind"]
    assert traces.show("a").batch["id"] == first
    before = {update_id: traces.show(update_id).batch for update_id in "ab"}
    TraceMover(client, trace_archive, delay_ms=0).move()  # batched: nothing under way
    assert not client.keys(trace_key("*"))
    assert {update_id: traces.show(update_id).batch for update_id in "ab"} == before
