"""Gauges of the deployment's health read from Redis when ``/metrics`` is scraped, for the
alert rules shipped in ops/prometheus/alerts.yml: Redis's memory against its
``maxmemory``, its replicas online against ``REDIS_MIN_REPLICAS``, and the workers whose
heartbeat is recent.

A worker beats every few seconds into the broker's heartbeat set; one whose last beat
is older than ``HOOKRELAY_HEARTBEAT_TIMEOUT_S`` is dead to the sweep, and so is not
counted here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from workers.queue.layout import heartbeats_key

logger = logging.getLogger(__name__)


class DeploymentCollector:
    """Parameters: the deployment's ``client`` (the broker's Redis), the
    ``min_replicas`` a write needs, and the ``heartbeat_timeout_s`` past which a worker
    counts as gone."""

    def __init__(self, client: redis.Redis, *, min_replicas: int, heartbeat_timeout_s: float):
        self._client = client
        self._min_replicas = min_replicas
        self._timeout_ms = int(heartbeat_timeout_s * 1000)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "hookrelay_redis_min_replicas",
            "Replicas that must confirm each accepted write (REDIS_MIN_REPLICAS).",
            value=self._min_replicas,
        )
        try:
            families = list(self._families())
        except redis.RedisError as error:
            logger.warning("Cannot read Redis's health for /metrics: %s", error)
            return
        yield from families

    def registry(self) -> CollectorRegistry:
        """A registry serving these gauges alone."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return registry

    def _families(self) -> Iterator[GaugeMetricFamily]:
        with self._client.pipeline(transaction=False) as pipe:
            pipe.info("memory")
            pipe.info("replication")
            pipe.zrange(heartbeats_key(), 0, -1, withscores=True)
            pipe.time()
            memory, replication, heartbeats, (seconds, micros) = pipe.execute()
        now_ms = seconds * 1000 + micros // 1000
        beats = [at for _, at in heartbeats if at >= now_ms - self._timeout_ms]
        yield GaugeMetricFamily(
            "hookrelay_redis_used_memory_bytes",
            "Memory Redis uses (INFO used_memory).",
            value=int(memory.get("used_memory") or 0),
        )
        yield GaugeMetricFamily(
            "hookrelay_redis_maxmemory_bytes",
            "Redis's maxmemory; 0: none set (the receiver then never refuses for memory).",
            value=int(memory.get("maxmemory") or 0),
        )
        yield GaugeMetricFamily(
            "hookrelay_redis_replicas_online",
            "Replicas connected to the Redis primary and online.",
            value=online_replicas(replication),
        )
        yield GaugeMetricFamily(
            "hookrelay_workers_alive",
            "Worker processes whose last heartbeat is within HOOKRELAY_HEARTBEAT_TIMEOUT_S.",
            value=len(beats),
        )
        if heartbeats:
            yield GaugeMetricFamily(
                "hookrelay_worker_heartbeat_age_seconds",
                "Seconds since the newest heartbeat of any worker.",
                value=max(0.0, (now_ms - heartbeats[-1][1]) / 1000),
            )


def online_replicas(replication: dict) -> int:
    """The replicas INFO lists as ``slaveN`` with ``state=online``."""
    return sum(
        1
        for name, value in replication.items()
        if name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
    )
