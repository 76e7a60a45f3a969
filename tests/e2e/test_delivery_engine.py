"""The delivery engine under a platform that limits, fails and drops, with two workers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import redis

from ..support import wait_for
from .stack import running_stack
from .test_procfile_stack import event_seqs, track_event

BASE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_2000_events_through_a_100_per_second_limit_with_5xx_and_drops(tmp_path):
    with running_stack(tmp_path, workers=2, CRM_RATE_LIMIT="100", WORKER_THREADS="8") as stack:
        stack.sandbox.limit("crm", 100)
        stack.sandbox.faults(
            "crm.events", {"status": 503, "ratio": 0.2}, {"drop": True, "ratio": 0.03}
        )
        total = 2000
        for start in range(0, total, 100):
            stack.post([track_event(i, "limited") for i in range(start, start + 100)])

        wait_for(lambda: len(event_seqs(stack.sandbox)) == total, timeout_s=180, interval_s=1)

        received = stack.sandbox.received("crm.events")
        statuses = [r["status"] for r in received]
        assert stack.sandbox.violations("crm") == 0, "never over the platform's limit"
        assert 429 not in statuses
        assert statuses.count(503) > 0 and statuses.count(0) > 0, "the faults were in force"
        assert redis.Redis.from_url(stack.redis.url).zcard("hookrelay:dlq:index") == 0
        assert set(event_seqs(stack.sandbox)) == set(range(total))
        span = received[-1]["at"] - received[0]["at"]
        print(
            f"\n{len(received)} requests in {span:.1f} s: {(len(received) - 1) / span:.1f}/s "
            f"against a limit of 100/s; {statuses.count(503)} 503s, {statuses.count(0)} drops"
        )


def shuffled_profile_updates(users: int, per_user: int, tag: str, seed: int = 11):
    """Updates with distinct, shuffled event times; returns them and the newest value of
    every field of every user, which is what the platform must end with."""
    rng = random.Random(seed)
    offsets = rng.sample(range(users * per_user * 10), users * per_user)
    updates, newest = [], {}
    for n, offset in enumerate(offsets):
        uid = f"{tag}-{n % users}"
        moment = BASE + timedelta(milliseconds=offset)
        fields = {f"f{k}": f"v{offset}" for k in rng.sample(range(5), rng.randint(1, 3))}
        user = {"uid": uid} if n % users % 4 else {"uid": uid, "email": f"{uid}@example.com"}
        updates.append(
            {
                "id": f"{tag}-{n}",
                "type": "profile",
                "user": user,
                "fields": fields,
                "timestamp": moment.isoformat().replace("+00:00", "Z"),
            }
        )
        for name, value in fields.items():
            if newest.setdefault(uid, {}).get(name, (BASE - timedelta(1), None))[0] < moment:
                newest[uid][name] = (moment, value)
    rng.shuffle(updates)
    expected = {
        uid: {name: value for name, (_, value) in fields.items()} for uid, fields in newest.items()
    }
    return updates, expected


def platform_fields(sandbox) -> dict[str, dict]:
    return {p["uid"]: p["fields"] for p in sandbox.profiles() if "uid" in p}


def test_10000_profile_updates_coalesce_to_the_newest_values(tmp_path):
    updates, expected = shuffled_profile_updates(users=1000, per_user=10, tag="co")
    with running_stack(tmp_path, workers=2) as stack:
        for start in range(0, len(updates), 100):
            stack.post(updates[start : start + 100])
        wait_for(lambda: platform_fields(stack.sandbox) == expected, timeout_s=90, interval_s=1)

        calls = stack.sandbox.received("crm.users_batch")
        assert all(call["status"] == 202 for call in calls)
        for call in calls:
            keys = [f"{k}:{h[k]}" for h in call["body"] for k in ("uid", "email") if k in h]
            assert len(keys) == len(set(keys)), "no batch holds two hashmaps of one identity"
        # Every flush sends whole batches; a user updated all through the posting is sent
        # once per flush it appears in, so the count depends on how many flushes happen.
        print(
            f"\n10,000 updates of 1,000 profiles: {len(calls)} batch calls "
            f"(PROFILE_BATCH_MAX 500, bound {1000 // 500} x 10)"
        )
        assert len(calls) <= 1000 // 500 * 10


def test_kill_9_a_worker_and_crash_redis_mid_run_loses_nothing(tmp_path):
    updates, expected = shuffled_profile_updates(users=300, per_user=5, tag="crash", seed=5)
    events = [track_event(i, "crash") for i in range(300)]
    with running_stack(tmp_path, workers=2) as stack:
        stack.sandbox.fault("crm.users_batch", delay_s=0.3)
        stack.sandbox.fault("crm.events", delay_s=0.02)
        for start in range(0, 750, 150):
            stack.post(updates[start : start + 150] + events[start // 5 : start // 5 + 30])
        wait_for(lambda: len(stack.sandbox.received()) >= 20, timeout_s=30)

        stack.workers[0].kill()
        stack.redis.kill()
        stack.redis.start()
        for start in range(750, 1500, 150):
            stack.post_until_accepted(
                updates[start : start + 150] + events[start // 5 : start // 5 + 30]
            )
        stack.workers[0] = stack.start_worker()

        def everything_arrived() -> bool:
            profiles_done = platform_fields(stack.sandbox) == expected
            return profiles_done and set(event_seqs(stack.sandbox)) == set(range(300))

        try:
            wait_for(everything_arrived, timeout_s=120, interval_s=1)
        except AssertionError:
            raise AssertionError(what_is_missing(stack, expected, 300)) from None


def what_is_missing(stack, expected: dict, events: int) -> str:
    """Which profiles and events did not arrive, and what Redis still holds."""
    got = platform_fields(stack.sandbox)
    wrong = [uid for uid in expected if got.get(uid) != expected[uid]]
    missing = sorted(set(range(events)) - set(event_seqs(stack.sandbox)))
    client = redis.Redis.from_url(stack.redis.url)
    buffer = {
        name: client.type(f"hookrelay:profiles:{name}").decode()
        for name in ("pending", "identities", "since", "lock", "claims")
    }
    queues = {
        key.decode(): client.llen(key)
        for key in client.scan_iter("dramatiq:*")
        if client.type(key) == b"list"
    }
    return (
        f"{len(wrong)} profiles not newest (e.g. {wrong[:3]}), events missing: {missing[:10]}; "
        f"buffer keys {buffer}, pending {client.llen('hookrelay:profiles:pending')}, "
        f"since {client.get('hookrelay:profiles:since')}, now {client.time()}; "
        f"queues {queues}; dead letters {client.zcard('hookrelay:dlq:index')}"
    )


def test_a_platform_stricter_than_configured_slows_the_shared_rate(tmp_path):
    with running_stack(tmp_path, workers=2, CRM_RATE_LIMIT="40") as stack:
        stack.sandbox.limit("crm", 20)
        stack.post([track_event(i, "strict") for i in range(100)])
        stack.post([track_event(i, "strict") for i in range(100, 400)])
        wait_for(lambda: len(event_seqs(stack.sandbox)) == 400, timeout_s=120, interval_s=1)

        statuses = [r["status"] for r in stack.sandbox.received("crm.events")]
        assert statuses.count(429) > 0, "the platform refused some at first"
        logs = "".join(worker.log() for worker in stack.workers)
        assert "crm answered 429; shared rate now 20.0/s." in logs
        assert redis.Redis.from_url(stack.redis.url).zcard("hookrelay:dlq:index") == 0
        assert set(event_seqs(stack.sandbox).values()) == {1}
        print(f"\n400 events, platform 20/s, configured 40/s: {statuses.count(429)} 429s")
