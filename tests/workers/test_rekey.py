"""``hookrelay migrate`` re-keys what Redis keeps per identity into the normal form, so
that what was kept under an older spelling keeps holding: a suppression, a frequency
window, a saved profile, an event's wait for its profile."""

from __future__ import annotations

import json

import redis
from click.testing import CliRunner

from webhook.gate.gate import WINDOW_MS, PreSendGate
from workers.campaigns.suppressions import FREQUENCY_PREFIX, SUPPRESSIONS
from workers.ops.cli import main
from workers.profiles.order import (
    AFTER_PREFIX,
    EVERY_PROFILE,
    ORDER_PREFIX,
    UNSETTLED,
    EventOrder,
)
from workers.profiles.states import STATE_PREFIX

SPELLED = "email:Cafe\u0301@Bücher.example."
NORMAL = "email:café@xn--bcher-kva.example"


def migrate(redis_url: str, tmp_path) -> str:
    env = {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'stats.db'}"}
    result = CliRunner().invoke(main, ["migrate"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_suppressions_and_frequency_windows_hold_under_the_normal_key(redis_url, tmp_path):
    client = redis.Redis.from_url(redis_url)
    full_width_916 = "".join(chr(0xFF10 + int(d)) for d in "916")
    client.hset(SUPPRESSIONS, f"phone:+7 {full_width_916} 0000001", '{"reason": "", "at": 1}')
    client.hset(SUPPRESSIONS, "uid:Ab", '{"reason": "", "at": 1}')
    now_ms = int(client.time()[0]) * 1000
    client.zadd(FREQUENCY_PREFIX + SPELLED, {"send-1": now_ms - 2, "send-2": now_ms - 1})
    client.pexpire(FREQUENCY_PREFIX + SPELLED, WINDOW_MS)
    client.zadd(FREQUENCY_PREFIX + NORMAL, {"send-3": now_ms})
    client.pexpire(FREQUENCY_PREFIX + NORMAL, 60_000)

    output = migrate(redis_url, tmp_path)
    assert "re-keyed 1 of suppressions" in output
    assert "re-keyed 1 of frequency windows" in output
    assert set(client.hkeys(SUPPRESSIONS)) == {b"phone:79160000001", b"uid:Ab"}
    assert client.zcard(FREQUENCY_PREFIX + NORMAL) == 3
    assert not client.exists(FREQUENCY_PREFIX + SPELLED)
    assert client.pttl(FREQUENCY_PREFIX + NORMAL) > 60_000, "the longer expiry"

    gate = PreSendGate(client, cap=3)
    assert not gate.decide({"email": "café@bücher.example"}).allow, "still at the cap"
    assert not gate.decide({"phone": "79160000001"}).allow, "still suppressed"
    assert "re-keyed" not in migrate(redis_url, tmp_path), "a second run has nothing to move"


def test_saved_states_and_event_waits_follow_the_normal_key(redis_url, tmp_path):
    client = redis.Redis.from_url(redis_url)
    state = json.dumps({"ids": {"email": "Cafe\u0301@Bücher.example."}, "fields": {"a": 1}})
    client.set(STATE_PREFIX + SPELLED, state, ex=3600)
    client.set(STATE_PREFIX + "uid:42", "@" + SPELLED, ex=3600)
    client.hset(ORDER_PREFIX + SPELLED, mapping={"open": 7, "acked": 5})
    client.hset(AFTER_PREFIX + "evt-1", SPELLED, 7)
    client.zadd(UNSETTLED, {SPELLED: 6, NORMAL: 9})
    client.hset(AFTER_PREFIX + "start-1", mapping={EVERY_PROFILE: 8, "low": 6})

    output = migrate(redis_url, tmp_path)
    assert "re-keyed 2 of saved profile states" in output
    assert "re-keyed 3 of event order" in output
    assert client.zrange(UNSETTLED, 0, -1, withscores=True) == [(NORMAL.encode(), 6.0)]
    assert EventOrder(client).settled("start-1") is None, "the start still waits for 6"
    assert client.get(STATE_PREFIX + NORMAL) == state.encode()
    assert client.get(STATE_PREFIX + "uid:42") == f"@{NORMAL}".encode()
    assert 0 < client.ttl(STATE_PREFIX + "uid:42") <= 3600
    assert client.hgetall(AFTER_PREFIX + "evt-1") == {NORMAL.encode(): b"7"}
    assert not EventOrder(client).ready("evt-1"), "still waits for update 7"
    client.hset(ORDER_PREFIX + NORMAL, "acked", 7)
    assert EventOrder(client).ready("evt-1")
