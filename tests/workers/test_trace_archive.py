"""Settled traces move from Redis to the SQL store (workers/trace/mover.py), against a
real Redis and SQLite (and PostgreSQL where one answers): the answer to ``GET
/v1/events/<id>`` is the same whichever store holds a trace, nothing is lost or doubled
by a move that races new entries or dies midway, and what is in flight stays."""

from __future__ import annotations

import dramatiq
import pytest
import redis
import sqlalchemy as sa

from webhook.intake.queue import EventQueue
from workers.queue.retry import DeliveryPolicy
from workers.queue.routes import DEDUP_PREFIX, DEDUP_TTL_S
from workers.trace.archive import EVENT_TRACES, TraceArchive
from workers.trace.mover import TraceMover
from workers.trace.reader import TraceReader
from workers.trace.trace import SETTLED, EventTrace, trace_key

from .stores import postgres_store, sqlite_store
from .test_trace import FAILURE, POLICY, Broker


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request, tmp_path):
    stores = sqlite_store(tmp_path) if request.param == "sqlite" else postgres_store()
    yield TraceArchive(next(stores).engine, 3600)
    next(stores, None)


@pytest.fixture
def client(redis_url):
    return redis.Redis.from_url(redis_url)


def reader(client, archive):
    return TraceReader(client, archive, dedup_prefix=DEDUP_PREFIX, dedup_ttl_s=DEDUP_TTL_S)


def shown(client, archive, event_id):
    """The answer to GET /v1/events/<id> but its ``accepted_at``: read from the dedup
    key's remaining time, which may land 1 ms either way from one read to the next."""
    report = reader(client, archive).show(event_id).asdict()
    report.pop("accepted_at")
    return report


def accept(client, event_id):
    event = {"id": event_id, "type": "event", "user": {"uid": "u1"}, "name": "buy"}
    return EventQueue(client, trace_retention_s=3600).submit([event])


def attempt(client, event_id, *, fails=0):
    """``fails`` failed attempts, then a delivery, as the delivery policy traces them."""
    policy = DeliveryPolicy(POLICY, dead_letters=None, trace=EventTrace(client, 3600))
    broker = Broker()
    message = dramatiq.Message("crm", "crm_post_event", ({"id": event_id},), {}, {})
    for _ in range(fails):
        policy.before_process_message(broker, message)
        policy.after_process_message(broker, message, exception=FAILURE)
        message = broker.enqueued[-1]
    policy.before_process_message(broker, message)
    policy.after_process_message(broker, message)


def rows(archive, event_id):
    query = sa.select(sa.func.count()).where(EVENT_TRACES.c.trace == trace_key(event_id))
    with archive.engine.connect() as connection:
        return connection.execute(query).scalar_one()


def test_a_delivered_trace_moves_and_reads_the_same(client, archive):
    accept(client, "ev-1")
    attempt(client, "ev-1", fails=1)
    accept(client, "ev-1")  # a duplicate submission, after the delivery
    before = shown(client, archive, "ev-1")
    assert before["state"] == "delivered" and len(before["duplicates"]) == 1
    mover = TraceMover(client, archive, delay_ms=0)
    assert mover.move() == 1
    assert not client.exists(trace_key("ev-1")) and client.zcard(SETTLED) == 0
    assert shown(client, archive, "ev-1") == before
    assert rows(archive, "ev-1") == 1


def test_what_is_in_flight_or_retrying_stays_in_redis(client, archive):
    policy = DeliveryPolicy(POLICY, dead_letters=None, trace=EventTrace(client, 3600))
    message = dramatiq.Message("crm", "crm_post_event", ({"id": "ev-2"},), {}, {})
    policy.before_process_message(Broker(), message)
    policy.after_process_message(Broker(), message, exception=FAILURE)
    policy.before_process_message(Broker(), message)
    assert TraceMover(client, archive, delay_ms=0).move() == 0
    assert client.llen(trace_key("ev-2")) == 2
    assert reader(client, archive).show("ev-2").state == "in_flight"


def test_a_trace_moves_only_once_its_delay_is_over(client, archive):
    attempt(client, "ev-3")
    assert TraceMover(client, archive, delay_ms=60_000).move() == 0
    assert client.llen(trace_key("ev-3")) == 1


def test_entries_added_while_a_move_is_under_way_stay_and_show_once(client, archive):
    accept(client, "ev-4")
    attempt(client, "ev-4")

    class Racing(TraceArchive):
        def add(self, traces):
            written = super().add(traces)
            accept(client, "ev-4")  # a duplicate lands between the write and the clean-up
            return written

    racing = Racing(archive.engine, 3600)
    TraceMover(client, racing, delay_ms=0).move()
    assert client.llen(trace_key("ev-4")) == 1, "the duplicate stays in Redis"
    before = shown(client, archive, "ev-4")
    assert before["state"] == "delivered" and len(before["duplicates"]) == 1
    TraceMover(client, archive, delay_ms=0).move()
    assert not client.exists(trace_key("ev-4")) and rows(archive, "ev-4") == 2
    assert shown(client, archive, "ev-4") == before


def test_a_move_that_died_before_the_clean_up_is_done_again_once(client, archive):
    attempt(client, "ev-5", fails=2)
    dying = TraceMover(client, archive, delay_ms=0)
    dying._release = lambda **_: (_ for _ in ()).throw(redis.ConnectionError("killed"))
    with pytest.raises(redis.ConnectionError):
        dying.move()
    before = shown(client, archive, "ev-5")
    assert [a["outcome"] for a in before["attempts"]] == ["retried", "retried", "delivered"]
    assert TraceMover(client, archive, delay_ms=0).move() == 0, "the claim's lease holds"
    client.zadd(SETTLED, {trace_key("ev-5"): 0})  # the lease runs out
    assert TraceMover(client, archive, delay_ms=0).move() == 1
    assert rows(archive, "ev-5") == 1 and not client.exists(trace_key("ev-5"))
    assert shown(client, archive, "ev-5") == before


def test_with_sql_away_nothing_moves_and_the_trace_stays_whole(client, archive, tmp_path):
    attempt(client, "ev-6")
    away = TraceArchive(sa.create_engine(f"sqlite:///{tmp_path}/missing/stats.db"), 3600)
    with pytest.raises(sa.exc.OperationalError):
        TraceMover(client, away, delay_ms=0).move()
    assert client.llen(trace_key("ev-6")) == 1
    assert reader(client, archive).show("ev-6").state == "delivered"


def test_expired_rows_are_pruned(client, archive):
    attempt(client, "ev-7")
    mover = TraceMover(client, archive, delay_ms=0)
    mover.move()
    seconds, _ = client.time()
    assert archive.prune(seconds * 1000) == 0, "kept TRACE_RETENTION_S after its last entry"
    assert archive.prune((seconds + 3601) * 1000) == 1
    assert reader(client, archive).show("ev-7") is None
