"""The receiver stops accepting before Redis is full, so the workers keep room to drain.

With ``maxmemory`` and ``noeviction`` (what ``hookrelay doctor`` asks for), a full
Redis refuses every write: the receiver's, but also the workers' fetches, acks,
retries and dead letters, so a full backlog can barely drain. :class:`Headroom` refuses
new events once Redis uses ``high_water_percent`` of its ``maxmemory``, leaving the
rest to the workers. It reads ``INFO memory`` at most once per ``interval_s`` per
process; a Redis without ``maxmemory`` is never refused here.
"""

from __future__ import annotations

import logging
import time

import redis

logger = logging.getLogger(__name__)


class RedisFull(Exception):
    """Redis is above the high-water mark: new events are refused with a 503."""


class Headroom:
    def __init__(
        self, client: redis.Redis, *, high_water_percent: int, interval_s: float = 1.0
    ) -> None:
        self._client = client
        self._high_water = high_water_percent / 100
        self._interval_s = interval_s
        self._read_at = float("-inf")
        self._full: str | None = None

    def check(self) -> None:
        """Raise :class:`RedisFull` (saying how full) when above the high-water mark."""
        if time.monotonic() - self._read_at >= self._interval_s:
            full, self._full = self._full, self._read()
            self._read_at = time.monotonic()
            if self._full and not full:
                logger.warning("Refusing new events: %s", self._full)
            elif full and not self._full:
                logger.info("Accepting events again: Redis is below its high-water mark.")
        if self._full:
            raise RedisFull(self._full)

    def _read(self) -> str | None:
        memory = self._client.info("memory")
        limit = int(memory.get("maxmemory") or 0)
        used = int(memory.get("used_memory") or 0)
        if limit and used >= self._high_water * limit:
            return (
                f"Redis holds {used / limit:.0%} of its maxmemory (new events are refused "
                f"from {self._high_water:.0%}, so the workers keep room to drain the backlog)."
            )
        return None
