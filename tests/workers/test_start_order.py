"""A campaign start waits for every user's profile updates accepted before it, and for
the segments it names to be generated, on a real Redis and the real sandbox."""

from __future__ import annotations

import json
import time

import pytest
import redis

from webhook.app import create_app
from workers.campaigns.prelude import SEGMENTS_PREFIX, SegmentFailed, StartPrelude
from workers.core.platform_settings import CrmConfig
from workers.platforms.crm import CrmClient
from workers.profiles.buffer import BUFFER, ProfileBuffer
from workers.profiles.order import AFTER_PREFIX, ORDER_PREFIX, UNSETTLED, EventOrder
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.policy import Postponed
from workers.queue.routes import DEDUP_PREFIX, DEDUP_TTL_S
from workers.trace.reader import TraceReader
from workers.trace.trace import EventTrace

from ..conftest import make_settings
from ..webhook.test_events import post
from .test_profile_buffer import batch_messages, update


def start(event_id: str, *segments: int) -> dict:
    event = {
        "id": event_id,
        "type": "campaign_start",
        "timestamp": "2026-11-23T10:00:00Z",
        "campaign": {"platform": "crm", "kind": "mailing", "id": 7},
    }
    return {**event, "segments": list(segments)} if segments else event


@pytest.fixture
def receiver(redis_url):
    return create_app(make_settings(redis_url)).test_client()


@pytest.fixture
def client(redis_url):
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def buffer(client):
    return ProfileBuffer(client, batch_max=500, flush_ms=1000)


def flushed(client: redis.Redis, buffer: ProfileBuffer):
    """The attempts of the batches one flush queued."""
    buffer.flush()
    return [buffer.attempt(*message.args) for message in batch_messages(client)]


def test_a_start_waits_for_every_users_updates_accepted_before_it(receiver, client, buffer):
    order = EventOrder(client)
    post(receiver, update("a", "1", 1, x=1))
    post(receiver, {"events": [update("b", "2", 1, x=1), update("c", "3", 1, x=1)]})
    post(receiver, start("s1"))
    [attempt] = flushed(client, buffer)
    post(receiver, update("later", "4", 1, x=1))
    assert order.settled("s1") is None, "three users' updates are in flight"

    buffer.acknowledge(attempt)
    assert order.settled("s1") == [], "an update accepted after it does not hold it"
    assert not client.exists(f"{AFTER_PREFIX}s1")
    assert client.zcard(UNSETTLED) == 1, "user 4's update is still open"


def test_within_one_request_a_start_waits_only_for_the_updates_before_it(receiver, client, buffer):
    order = EventOrder(client)
    post(receiver, {"events": [start("first"), update("a", "1", 1, x=1), start("second")]})
    assert order.settled("first") == [], "nothing came before it"
    assert not client.exists(f"{AFTER_PREFIX}first"), "and nothing was written for it"
    assert order.settled("second") is None
    [attempt] = flushed(client, buffer)
    buffer.acknowledge(attempt)
    assert order.settled("second") == []
    assert client.zcard(UNSETTLED) == 0 and not client.keys(f"{ORDER_PREFIX}*")


def test_a_partly_acknowledged_user_still_holds_a_start_back(receiver, client, buffer):
    order = EventOrder(client)
    post(receiver, update("a", "1", 1, x=1))
    [first] = flushed(client, buffer)
    post(receiver, update("b", "1", 2, x=2))
    post(receiver, start("s1"))
    buffer.acknowledge(first)
    assert order.settled("s1") is None, "update b of the same user is not acknowledged"
    [second] = flushed(client, buffer)
    buffer.acknowledge(second)
    assert order.settled("s1") == []


def test_a_dead_lettered_update_lets_the_start_go_and_is_named(
    receiver, client, buffer, trace_archive
):
    order = EventOrder(client)
    trace = EventTrace(client, 3600)
    post(receiver, {"events": [update("a", "1", 1, x=1), update("b", "2", 1, x=1)]})
    post(receiver, start("s1"))
    [attempt] = flushed(client, buffer)
    buffer.release(attempt, refused=True, letter="letter-1")
    prelude = StartPrelude(
        settled=order.settled,
        crm=None,  # type: ignore[arg-type]
        client=client,
        trace=trace,
        poll_ms=100,
        segment_poll_ms=100,
        segment_pause_ms=0,
    )
    prelude.ready(start("s1"))
    reader = TraceReader(client, trace_archive, dedup_prefix=DEDUP_PREFIX, dedup_ttl_s=DEDUP_TTL_S)
    assert reader.show("s1").not_waited_for == ["letter-1"]

    post(receiver, update("c", "3", 1, x=1))
    post(receiver, start("s2"))
    [later] = flushed(client, buffer)
    buffer.acknowledge(later)
    assert order.settled("s2") == [], "the letter came before anything it waited for"


def test_an_order_key_that_expired_holds_no_start_back(receiver, client):
    post(receiver, update("a", "1", 1, x=1))
    post(receiver, start("s1"))
    assert EventOrder(client).settled("s1") is None
    client.delete(f"{ORDER_PREFIX}uid:1")
    assert EventOrder(client).settled("s1") == []
    assert client.zcard(UNSETTLED) == 0


def test_with_events_after_profiles_off_a_start_waits_for_nothing(redis_url, client):
    receiver = create_app(make_settings(redis_url, EVENTS_AFTER_PROFILES="false")).test_client()
    post(receiver, update("a", "1", 1, x=1))
    post(receiver, start("s1"))
    assert not client.exists(f"{AFTER_PREFIX}s1") and client.zcard(UNSETTLED) == 0


def prelude_for(client, sandbox, *, pause_ms: int = 0) -> StartPrelude:
    config = CrmConfig(base_url=f"{sandbox.url}/crm", login="sandbox", secret="sandbox-secret")
    return StartPrelude(
        settled=EventOrder(client).settled,
        crm=CrmClient(config),
        client=client,
        trace=EventTrace(client, 3600),
        poll_ms=100,
        segment_poll_ms=100,
        segment_pause_ms=pause_ms,
    )


def created_segment(sandbox) -> int:
    config = CrmConfig(base_url=f"{sandbox.url}/crm", login="sandbox", secret="sandbox-secret")
    answer = CrmClient(config).create_segment({"name": "buyers", "condition": {"all": []}})
    return int(answer["id"])


def test_segments_are_generated_once_and_read_until_generated(client, clean_sandbox):
    clean_sandbox.knobs(segment_generating_reads=2)
    prelude = prelude_for(client, clean_sandbox)
    one, two = created_segment(clean_sandbox), created_segment(clean_sandbox)
    for _ in range(2):
        with pytest.raises(Postponed, match="being generated"):
            prelude.ready(start("s1", one, two))
    prelude.ready(start("s1", one, two))
    assert len(clean_sandbox.received("crm.segment_generate")) == 2, "once each"
    assert not client.exists(f"{SEGMENTS_PREFIX}s1")


def test_without_a_status_a_start_waits_the_configured_pause(client, clean_sandbox):
    clean_sandbox.fault("crm.segment_generate", status=200, count=1)  # no status in it
    prelude = prelude_for(client, clean_sandbox, pause_ms=300)
    segment = created_segment(clean_sandbox)
    with pytest.raises(Postponed):
        prelude.ready(start("s1", segment))
    time.sleep(0.35)
    prelude.ready(start("s1", segment))
    assert len(clean_sandbox.received("crm.segment_generate")) == 1
    assert clean_sandbox.received("crm.segment") == [], "nothing to read"


def test_a_failed_generation_dead_letters_the_start(client, clean_sandbox):
    clean_sandbox.knobs(segment_generating_reads=0, segment_generation_fails=1)
    prelude = prelude_for(client, clean_sandbox)
    segment = created_segment(clean_sandbox)
    with pytest.raises(SegmentFailed, match="failed"):
        prelude.ready(start("s1", segment))
    assert not client.hexists(f"{SEGMENTS_PREFIX}s1", str(segment)), "a replay generates again"


def test_a_poison_update_dead_lettered_by_the_flush_lets_the_start_go(receiver, client, buffer):
    post(receiver, update("bad", "9", 1, x=1))
    [item] = client.lrange(f"{BUFFER}:pending", 0, -1)
    number, _, body = item.partition(b" ")
    poisoned = json.loads(body) | {"timestamp": "not a time"}
    client.lset(f"{BUFFER}:pending", 0, number + b" " + json.dumps(poisoned).encode())
    post(receiver, start("s1"))
    assert EventOrder(client).settled("s1") is None
    buffer.flush()
    [letter] = DeadLetterQueue(client).newest()
    assert letter.event_id == "bad"
    assert EventOrder(client).settled("s1") == [letter.id]
