"""After an erasure, the append-only file is rewritten, once per burst of erasures."""

from __future__ import annotations

import redis

from workers.erasure.aof import ASKED_AT, ERASED_AT, AofRewrite

from ..support import temporary_redis, wait_for


def rewrites(client: redis.Redis) -> int:
    info = client.info("persistence")
    return 0 if info["aof_rewrite_in_progress"] else int(info["aof_rewrites"])


def test_an_erasure_gets_one_rewrite_and_a_burst_waits_for_the_gap():
    with temporary_redis() as server:
        client = redis.Redis.from_url(server.url)
        wait_for(lambda: not client.info("persistence")["aof_rewrite_in_progress"], timeout_s=10)
        before = rewrites(client)
        rewrite = AofRewrite(client, min_gap_s=600)
        assert not rewrite.rewrite_if_due(), "no erasure yet"
        client.set(ERASED_AT, 1)
        assert rewrite.rewrite_if_due()
        wait_for(lambda: rewrites(client) == before + 1, timeout_s=10)
        assert not rewrite.rewrite_if_due(), "that erasure is in the rewrite"
        client.set(ERASED_AT, int(client.get(ASKED_AT)) + 1)
        assert not rewrite.rewrite_if_due(), "a newer one waits for the gap"
        assert AofRewrite(client, min_gap_s=0).rewrite_if_due()


def test_a_redis_without_the_file_is_left_alone():
    with temporary_redis() as server:
        client = redis.Redis.from_url(server.url)
        client.config_set("appendonly", "no")
        client.set(ERASED_AT, 1)
        assert not AofRewrite(client).rewrite_if_due()
