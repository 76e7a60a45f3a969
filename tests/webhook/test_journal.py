"""What the hooks count in Redis's memory only, against a real Redis killed with
``kill -9``: a count binds at once, reaches the append-only file with its journal's
next flush (webhook/journal.py), and only then survives a crash."""

from __future__ import annotations

import threading

import pytest
import redis

from webhook.gate.gate import FREQUENCY_PREFIX, WINDOW_MS, PreSendGate
from webhook.posthook.recorder import CAMPAIGN_SENDS, PostHookRecorder
from workers.campaigns.campaign import Campaign
from workers.campaigns.sample import SAMPLE_PREFIX
from workers.campaigns.schedule import SCHEDULE_PREFIX, FollowupScheduler

from ..support import temporary_redis, wait_for

ALICE = {"uid": "u1", "email": "alice@example.com"}
BOB = {"email": "bob@example.com"}
CAMPAIGN = Campaign("crm", 9093)


@pytest.fixture
def own_redis():
    with temporary_redis("hr-gate-") as server:
        yield server


def crash_and_restart(server) -> None:
    server.kill()
    server.start()


def test_flushed_counts_survive_a_crash_and_unflushed_ones_are_the_bound(own_redis):
    client = redis.Redis.from_url(own_redis.url)
    gate = PreSendGate(client, cap=2, journal_interval_s=3600)

    assert gate.decide(ALICE).allow and gate.decide(ALICE).allow
    assert gate.decide({"uid": "u1"}).reason == "frequency cap: uid:u1 had 2 sends in 24 h"
    gate.journal.flush()
    assert gate.decide(BOB).allow

    crash_and_restart(own_redis)
    assert not gate.decide(ALICE).allow
    assert not gate.decide({"email": "alice@example.com"}).allow
    ttl_ms = client.pttl(FREQUENCY_PREFIX + "email:alice@example.com")
    assert WINDOW_MS - 60_000 < ttl_ms <= WINDOW_MS
    # Bob's count was never flushed: the crash lost it, so he has his two sends again.
    assert gate.decide(BOB).allow and gate.decide(BOB).allow
    assert not gate.decide(BOB).allow
    gate.journal.flush()  # before the fixture removes this server, not at exit


def test_the_journal_flushes_on_its_own(own_redis):
    client = redis.Redis.from_url(own_redis.url)
    gate = PreSendGate(client, cap=1, journal_interval_s=0.1)
    gate.journal.start()
    try:
        assert gate.decide(ALICE).allow
        aof = own_redis.directory / "appendonlydir"
        wait_for(
            lambda: any(b"alice@example.com" in p.read_bytes() for p in aof.glob("*.incr.aof")),
            timeout_s=20,
        )
        crash_and_restart(own_redis)
        assert not gate.decide(ALICE).allow
    finally:
        gate.journal.stop()


def test_stopping_the_journal_writes_what_it_holds_and_ends_its_thread(own_redis):
    client = redis.Redis.from_url(own_redis.url)
    gate = PreSendGate(client, cap=1, journal_interval_s=3600)
    gate.journal.start()
    names = {thread.name for thread in threading.enumerate()}
    assert "hookrelay-journal-frequency-counts" in names
    assert gate.decide(ALICE).allow
    gate.journal.stop()
    names = {thread.name for thread in threading.enumerate()}
    assert "hookrelay-journal-frequency-counts" not in names
    crash_and_restart(own_redis)
    assert not gate.decide(ALICE).allow, "the count was written through at stop"
    gate.journal.flush()


def test_a_count_older_than_the_window_expires_when_written(own_redis):
    client = redis.Redis.from_url(own_redis.url)
    key = FREQUENCY_PREFIX + "email:old@example.com"
    PreSendGate(client, cap=1).write_back([key, 1_000, "long-ago"])
    assert not client.exists(key)


def test_a_flush_that_fails_keeps_its_counts_for_the_next(own_redis):
    client = redis.Redis.from_url(own_redis.url)
    gate = PreSendGate(client, cap=1, journal_interval_s=3600)
    assert gate.decide(ALICE).allow

    own_redis.kill()
    with pytest.raises(redis.ConnectionError):
        gate.journal.flush()
    own_redis.start()
    gate.journal.flush()

    crash_and_restart(own_redis)
    assert not gate.decide(ALICE).allow


def test_counts_written_in_several_batches_all_survive(own_redis):
    client = redis.Redis.from_url(own_redis.url)
    gate = PreSendGate(client, cap=1, journal_interval_s=3600)
    # Two identifiers each: 500 counts, in batches of 200.
    users = [{"uid": f"u{n}", "email": f"user{n}@example.com"} for n in range(250)]
    assert all(gate.decide(user).allow for user in users)
    gate.journal.flush()

    crash_and_restart(own_redis)
    assert not any(gate.decide(user).allow for user in users)


def test_send_counts_survive_a_crash_once_written_back(own_redis):
    client = redis.Redis.from_url(own_redis.url)
    scheduler = FollowupScheduler(client, schedule_s=[300], time_scale=1)
    log = PostHookRecorder(client, scheduler, journal_interval_s=3600)
    for n in range(30):
        log.record(CAMPAIGN, f"user{n}@example.com")
    log.journal.flush()
    assert log.record(CAMPAIGN, "late@example.com") == 31

    crash_and_restart(own_redis)
    assert client.hget(CAMPAIGN_SENDS, CAMPAIGN.key) == b"30"
    assert client.scard(SAMPLE_PREFIX + CAMPAIGN.key) == 20, "the sample is written at once"
    assert client.exists(SCHEDULE_PREFIX + CAMPAIGN.key)
    assert log.record(CAMPAIGN, "after@example.com") == 31
    log.journal.flush()  # before the fixture removes this server, not at exit
