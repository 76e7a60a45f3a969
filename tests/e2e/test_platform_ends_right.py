"""What reaches the platform is right under the weakest reading of its documentation:
the newest value of every field even if it applies batches in arrival order, and an
event never before the profile update of its user accepted before it."""

from __future__ import annotations

from collections import Counter

import pytest
import redis

from ..support import wait_for
from .stack import running_stack
from .test_delivery_engine import platform_fields, shuffled_profile_updates
from .test_procfile_stack import event_seqs, track_event

#: The first batch calls meet each fault once or twice for sure, then at random.
FAULTS = (
    {"status": 500, "count": 2},
    {"status": 429, "retry_after": 1, "count": 2},
    {"drop": True, "count": 1},
    {"drop": True, "applied": True, "count": 2},
    {"status": 500, "ratio": 0.1},
    {"status": 429, "ratio": 0.05, "retry_after": 1},
    {"drop": True, "ratio": 0.03},
    {"drop": True, "applied": True, "ratio": 0.05},
    {"delay_s": 0.05},
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("platform-ends-right"),
        workers=2,
        PROFILE_FLUSH_MS="200",
        PROFILE_BATCH_MAX="10",
    ) as stack:
        yield stack


#: Every non-empty queue, delay queue, acknowledgement set and profile-buffer key, read
#: in one atomic step. A scan from outside can miss a message that moves between two
#: keys while it runs (from a queue into a worker's acknowledgement set, created anew),
#: and so report a stack idle that still holds a batch to send.
BUSY = """
local keys, cursor = {KEYS[1], KEYS[2]}, "0"
repeat
    local page = redis.call("scan", cursor, "match", "dramatiq:*", "count", 1000)
    cursor = page[1]
    for _, key in ipairs(page[2]) do table.insert(keys, key) end
until cursor == "0"
local busy = {}
for _, key in ipairs(keys) do
    local kind = redis.call("type", key)["ok"]
    local size = 0
    if kind == "list" then size = redis.call("llen", key)
    elseif kind == "zset" then size = redis.call("zcard", key)
    elseif kind == "set" then size = redis.call("scard", key) end
    if size > 0 and not string.find(key, "__heartbeats__", 1, true) then
        table.insert(busy, key .. ": " .. size)
    end
end
return busy
"""


def busy(client: redis.Redis) -> list[str]:
    """What is still queued, delayed, in a worker's hands or buffered (the profile
    buffer's updates and the claims of flushes under way)."""
    found = client.eval(BUSY, 2, "hookrelay:profiles:pending", "hookrelay:profiles:claims")
    return [entry.decode() for entry in found]


@pytest.mark.parametrize("order", ["arrival", "stamp"])
def test_the_platform_ends_with_the_newest_values_under_faults_and_a_kill_9(stack, order):
    stack.sandbox.reset()
    stack.sandbox.profile_order(order)
    stack.sandbox.faults("crm.users_batch", *FAULTS)
    updates, expected = shuffled_profile_updates(users=200, per_user=10, tag=order, seed=3)
    for start in range(0, len(updates), 100):
        stack.post_until_accepted(updates[start : start + 100])
        if start == 1000:
            stack.workers[0].kill()
            stack.workers[0] = stack.start_worker()

    client = redis.Redis.from_url(stack.redis.url)
    try:
        wait_for(lambda: platform_fields(stack.sandbox) == expected, timeout_s=120, interval_s=1)
        wait_for(lambda: not busy(client), timeout_s=30, interval_s=0.5)
    except AssertionError:
        got = platform_fields(stack.sandbox)
        wrong = sorted(uid for uid in expected if got.get(uid) != expected[uid])
        raise AssertionError(
            f"{len(wrong)} of 200 profiles not on their newest values (e.g. {wrong[:3]}); "
            f"still busy: {busy(client)}"
        ) from None
    assert platform_fields(stack.sandbox) == expected, "and nothing older came after"
    calls = stack.sandbox.received("crm.users_batch")
    statuses = [call["status"] for call in calls]
    assert {500, 429, 0} <= set(statuses), f"the faults were in force: {Counter(statuses)}"
    assert client.zcard("hookrelay:dlq:index") == 0

    posted = sum(len(update["fields"]) for update in updates)
    acknowledged = sum(len(h["fields"]) for c in calls if c["status"] == 202 for h in c["body"])
    print(
        f"\n{order} order: {len(calls)} batch calls ({statuses.count(202)} accepted), "
        f"{acknowledged} field values in accepted calls for {posted} posted"
    )
    assert acknowledged <= posted, "only changed fields are sent, never the whole state again"


def test_an_event_reaches_the_platform_after_its_users_profile(stack):
    stack.sandbox.reset()
    stack.sandbox.fault("crm.users_batch", delay_s=0.1)
    pairs = []
    for n in range(500):
        event = track_event(n, "ordered")
        profile = {**event, "id": f"ordered-p{n}", "type": "profile", "fields": {"n": n}}
        del profile["name"], profile["payload"]
        pairs += [profile, event]
    for start in range(0, len(pairs), 100):
        stack.post(pairs[start : start + 100])

    wait_for(lambda: len(event_seqs(stack.sandbox)) == 500, timeout_s=60, interval_s=0.5)
    assert stack.sandbox.early_events() == []
    users = {f"ordered-u{n}" for n in range(500)}
    assert set(platform_fields(stack.sandbox)) ^ users == set(), "each user's profile, no other"
