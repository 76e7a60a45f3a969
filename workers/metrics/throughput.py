"""Deliveries per platform per minute, kept in Redis for two hours: the status page's
chart. Prometheus holds the same counts per process; this is the deployment's total,
readable by ``web`` without a Prometheus server."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import redis

from workers.core import lua
from workers.core.roundtrip import Held, later

logger = logging.getLogger(__name__)

KEY = "hookrelay:deliveries:{platform}:{minute}"
KEEP_S = 2 * 3600
#: One key per platform and minute: it may be written while Redis is above maxmemory,
#: like the workers' other draining writes (workers/core/lua.py).
_COUNT = lua.draining(lua.read(__package__, "throughput.lua"))


class DeliveryRate:
    """Parameters:
    client: the deployment's Redis.
    clock: seconds since the epoch (tests pass their own).
    """

    def __init__(self, client: redis.Redis, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
        self._count = client.register_script(_COUNT)

    def count(self, platform: str) -> None:
        """One more delivery to ``platform`` this minute (one short script, a held
        write: workers/core/roundtrip.py). A Redis error is logged: it must not fail a
        delivery the platform already accepted."""
        key = KEY.format(platform=platform, minute=int(self._clock() // 60))

        def failed(error: Exception) -> None:
            logger.warning("Could not count a %s delivery for /status: %s", platform, error)

        later(Held(lua.ScriptCall(self._count, [key], [KEEP_S]), failed))

    def per_minute(self, platforms: Iterable[str], minutes: int = 60) -> dict[str, list[int]]:
        """Each platform's deliveries in each of the last ``minutes`` minutes, oldest
        first; the last is the minute under way."""
        now = int(self._clock() // 60)
        span = range(now - minutes + 1, now + 1)
        platforms = list(platforms)
        keys = [KEY.format(platform=p, minute=m) for p in platforms for m in span]
        values = [int(value or 0) for value in self._client.mget(keys)] if keys else []
        return {
            platform: values[index * minutes : (index + 1) * minutes]
            for index, platform in enumerate(platforms)
        }
