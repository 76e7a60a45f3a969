"""``/metrics``' deployment gauges, read from a real Redis when scraped: its memory and
maxmemory, its replicas, the workers alive; and the receiver's answers by status."""

from __future__ import annotations

import redis

from webhook.app import create_app
from workers.metrics.deployment import online_replicas
from workers.queue.layout import heartbeats_key

from ..conftest import make_settings
from ..support import temporary_redis
from .test_events import AUTH
from .test_metrics import scrape


def test_memory_workers_and_answers_are_gauged(redis_url):
    client = redis.Redis.from_url(redis_url)
    now_ms = int(client.time()[0]) * 1000
    client.zadd(heartbeats_key(), {"alive": now_ms - 1000, "gone": now_ms - 3_600_000})
    app = create_app(make_settings(redis_url, REDIS_MIN_REPLICAS="0")).test_client()
    app.post("/v1/events", json={"events": []}, headers=AUTH)
    samples = scrape(app)
    assert samples[("hookrelay_workers_alive", ())] == 1, "the one within the timeout"
    assert 0 <= samples[("hookrelay_worker_heartbeat_age_seconds", ())] < 5
    assert samples[("hookrelay_redis_used_memory_bytes", ())] > 0
    assert samples[("hookrelay_redis_maxmemory_bytes", ())] == 0
    assert samples[("hookrelay_redis_replicas_online", ())] == 0
    assert samples[("hookrelay_redis_min_replicas", ())] == 0
    assert samples[("hookrelay_http_responses_total", (("status", "422"),))] >= 1


def test_maxmemory_is_read_from_redis():
    with temporary_redis() as server:
        redis.Redis.from_url(server.url).config_set("maxmemory", 64 * 1024 * 1024)
        app = create_app(make_settings(server.url)).test_client()
        samples = scrape(app)
    assert samples[("hookrelay_redis_maxmemory_bytes", ())] == 64 * 1024 * 1024


def test_onlyonline_replicas_count():
    replication = {
        "role": "master",
        "connected_slaves": 2,
        "slave0": {"ip": "10.0.0.2", "port": 6379, "state": "online", "offset": 1, "lag": 0},
        "slave1": {"ip": "10.0.0.3", "port": 6379, "state": "wait_bgsave", "offset": 0},
    }
    assert online_replicas(replication) == 1
