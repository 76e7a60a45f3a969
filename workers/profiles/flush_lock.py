"""The profile buffer's flush lock: flushes never overlap, and an erasure of the buffer
(workers/erasure/) waits for the flush under way instead of racing it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from uuid import uuid4

import redis

from workers.core import lua
from workers.queue.routes import PROFILE_BUFFER

KEY = f"{PROFILE_BUFFER}:lock"
#: A holder that died lets go after this.
TTL_MS = 30_000
#: How often a waiting taker asks again.
POLL_S = 0.05

_RELEASE = lua.read(__package__, "release.lua")


class FlushLock:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._release = client.register_script(_RELEASE)

    @contextlib.contextmanager
    def held(self, *, wait_s: float = 0.0) -> Iterator[bool]:
        """Hold the lock for the block, if it can be taken within ``wait_s``; yields
        whether it was."""
        token = str(uuid4())
        deadline = time.monotonic() + wait_s
        while not self._client.set(KEY, token, nx=True, px=TTL_MS):
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(POLL_S)
        try:
            yield True
        finally:
            self._release(keys=[KEY], args=[token])
