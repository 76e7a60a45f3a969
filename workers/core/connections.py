"""The one way hookrelay opens a Redis client: pooled, with bounded timeouts, to
``REDIS_URL``'s server or to the primary Sentinel names (``REDIS_SENTINELS``).

Through Sentinel, redis-py's :class:`~redis.sentinel.SentinelConnectionPool` asks the
Sentinels for the primary on every new connection, and a connection to a server that
is no longer the primary (``READONLY``) or no longer answers is dropped: after a
failover each command fails until the new primary is known (the receiver answers
``503``, the workers wait and retry), then reaches it, with no restart."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import redis
from redis.sentinel import Sentinel

from workers.core.redis_settings import SentinelConfig
from workers.core.settings import Settings

#: Socket timeouts for every Redis client: fail fast rather than hang a request.
REDIS_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}


def redis_client(settings: Settings) -> redis.Redis:
    """A pooled Redis client with bounded timeouts, to the primary."""
    if settings.sentinel is None:
        return redis.Redis.from_url(settings.redis_url, health_check_interval=30, **REDIS_TIMEOUTS)
    return sentinels(settings.sentinel).master_for(
        settings.sentinel.master,
        password=settings.sentinel.redis_password,
        health_check_interval=30,
        **REDIS_TIMEOUTS,
    )


def sentinels(config: SentinelConfig) -> Sentinel:
    """The Sentinels, each asked with the same bounded timeouts."""
    return Sentinel(
        list(config.addresses),
        sentinel_kwargs={"password": config.password, **REDIS_TIMEOUTS},
        **REDIS_TIMEOUTS,
    )


def embedded_redis_absent(settings: Settings) -> bool:
    """The embedded Redis is the one configured, and it is not running (no socket)."""
    return settings.embedded_redis and not Path(urlsplit(settings.redis_url).path).exists()
