"""The one way hookrelay opens a Redis client: pooled, with bounded timeouts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import redis

from workers.core.settings import Settings

#: Socket timeouts for every Redis client: fail fast rather than hang a request.
REDIS_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}


def redis_client(url: str) -> redis.Redis:
    """A pooled Redis client with bounded timeouts."""
    return redis.Redis.from_url(url, health_check_interval=30, **REDIS_TIMEOUTS)


def embedded_redis_absent(settings: Settings) -> bool:
    """The embedded Redis is the one configured, and it is not running (no socket)."""
    return settings.embedded_redis and not Path(urlsplit(settings.redis_url).path).exists()
