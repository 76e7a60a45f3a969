"""The one way hookrelay opens a Redis client: pooled, with bounded timeouts."""

from __future__ import annotations

import redis

#: Socket timeouts for every Redis client: fail fast rather than hang a request.
REDIS_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}


def redis_client(url: str) -> redis.Redis:
    """A pooled Redis client with bounded timeouts."""
    return redis.Redis.from_url(url, health_check_interval=30, **REDIS_TIMEOUTS)
