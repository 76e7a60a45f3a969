"""``hookrelay migrate`` moves Redis keys a release renamed, so an upgrade keeps what
they counted: a recipient at the frequency cap before the upgrade is still at it."""

from __future__ import annotations

import redis
from click.testing import CliRunner

from webhook.gate.gate import FREQUENCY_PREFIX, WINDOW_MS, PreSendGate
from workers.ops.cli import main

OLD_PREFIX = "hookrelay:sends:"


def migrate(redis_url: str, tmp_path) -> str:
    env = {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'stats.db'}"}
    result = CliRunner().invoke(main, ["migrate"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_frequency_counts_under_the_old_name_still_count_after_migrate(redis_url, tmp_path):
    client = redis.Redis.from_url(redis_url)
    now_ms = int(client.time()[0]) * 1000
    for n in range(3):
        client.zadd(f"{OLD_PREFIX}email:a@example.com", {f"send-{n}": now_ms - n})
    client.pexpire(f"{OLD_PREFIX}email:a@example.com", WINDOW_MS)
    client.zadd(f"{OLD_PREFIX}uid:7", {"old": now_ms - 10})
    client.pexpire(f"{OLD_PREFIX}uid:7", 60_000)
    client.zadd(f"{FREQUENCY_PREFIX}uid:7", {"new": now_ms})
    client.pexpire(f"{FREQUENCY_PREFIX}uid:7", 30_000)

    output = migrate(redis_url, tmp_path)
    assert "redis: moved 2 key(s) of frequency-cap counts (sorted sets) to their new name" in output
    assert not client.keys(f"{OLD_PREFIX}*")
    assert client.zcard(f"{FREQUENCY_PREFIX}email:a@example.com") == 3
    assert set(client.zrange(f"{FREQUENCY_PREFIX}uid:7", 0, -1)) == {b"old", b"new"}
    assert 30_000 < client.pttl(f"{FREQUENCY_PREFIX}uid:7") <= 60_000, "the longer expiry"

    gate = PreSendGate(client, cap=3)
    assert not gate.decide({"email": "a@example.com"}).allow, "still at the cap"
    assert "redis: moved" not in migrate(redis_url, tmp_path), "a second run has nothing to move"


def test_suppressions_of_identifiers_not_in_their_normal_form_are_renamed(redis_url, tmp_path):
    client = redis.Redis.from_url(redis_url)
    client.hset("hookrelay:suppressions", "email:A@Example.COM", '{"reason": "old", "at": 1}')
    client.hset("hookrelay:suppressions", "phone:+7 916 0000001", '{"reason": "", "at": 1}')
    client.hset("hookrelay:suppressions", "uid:Ab", '{"reason": "", "at": 1}')
    output = migrate(redis_url, tmp_path)
    assert "moved 2 key(s) of suppressions" in output
    assert set(client.hkeys("hookrelay:suppressions")) == {
        b"email:a@example.com",
        b"phone:79160000001",
        b"uid:Ab",
    }
