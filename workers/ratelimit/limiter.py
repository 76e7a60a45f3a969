"""One rate limit per platform, shared by every worker process and thread through Redis.

Unlike Dramatiq's rate limiters, which raise and so burn a retry, :meth:`acquire`
waits: the calling thread sleeps until a slot is free, and that is all. Nothing is
logged, retried or lost while waiting, and the time spent is returned so it can be
counted.

The limit is a sliding window log (see ``window.lua``), kept by Redis's clock so
every process agrees. A grant and the moment its request reaches the platform are apart
by however long the thread waits to run and send: on a loaded two-core machine that
passed 100 ms, and the platform saw 51 requests in a second, four times in 2,400
(tests/e2e/test_delivery_engine.py). So each grant is stamped again once its request
is known to have reached the platform (:meth:`SharedRateLimiter.sent`: its answer is
back, or the call failed). The request arrived before that stamp, and the grant its
expiry makes room for comes a whole window later, so the platform never sees more than
the limit in one second, however late a thread sent; only a request still in flight a
whole window after its grant is left to the margin. This costs one more Redis call per
request. The window is one second plus ``margin_ms``, for timing beyond our clock; the
default 100 ms leaves 1000/1100 ≈ 91 % of the limit usable.

A 429 from the platform calls :meth:`slow_down`: the shared rate is multiplied by
``decrease`` (once per window, however many requests were refused), and after
``quiet_s`` without another 429 it climbs back by ``recovery_per_s`` each second.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from uuid import uuid4

import redis

from workers.core import lua
from workers.core.settings import Settings

DEFAULT_MARGIN_MS = 100
DEFAULT_DECREASE = 0.5
DEFAULT_QUIET_S = 10.0

_SCRIPT = lua.draining(lua.read(__package__, "window.lua"))

logger = logging.getLogger(__name__)


@dataclass
class Grant:
    """One request's slot: ``id`` in the shared window, ``waited_s`` spent getting it."""

    id: str
    waited_s: float = 0.0


class SharedRateLimiter:
    """Parameters:
    client: the Redis holding the shared state.
    name: the platform; keys are ``hookrelay:ratelimit:<name>:*``.
    rate: the configured ceiling, in requests per second.
    margin_ms: slack added to the one-second window (see the module docstring).
    decrease: factor applied to the rate on a 429.
    min_rate: the rate never drops below this.
    quiet_s: seconds without a 429 before the rate starts to climb back.
    recovery_per_s: requests/second regained per second while climbing; by default a
      tenth of the ceiling, so a halved rate is whole again in about 15 s.
    """

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        *,
        rate: float,
        margin_ms: float = DEFAULT_MARGIN_MS,
        decrease: float = DEFAULT_DECREASE,
        min_rate: float = 1.0,
        quiet_s: float = DEFAULT_QUIET_S,
        recovery_per_s: float | None = None,
    ) -> None:
        self.name = name
        self.ceiling = rate
        self._keys = [f"hookrelay:ratelimit:{name}:grants", f"hookrelay:ratelimit:{name}:state"]
        self._args = [
            rate,
            1000 + margin_ms,
            min(min_rate, rate),
            decrease,
            rate / 10 if recovery_per_s is None else recovery_per_s,
            quiet_s * 1000,
        ]
        self._script = client.register_script(_SCRIPT)

    def acquire(self, grant: Grant | None = None, wait_ms: int | None = None) -> Grant:
        """Block until this caller may send one request. ``wait_ms``: what ``grant``'s
        first ask, made with other calls in one round trip (:meth:`asking`), answered."""
        grant = grant or Grant(str(uuid4()))
        while True:
            if wait_ms is None:
                wait_ms, _ = self._call("acquire", grant.id)
            if wait_ms == 0:
                return grant
            pause = wait_ms / 1000
            time.sleep(pause)
            grant.waited_s += pause
            wait_ms = None

    def sent(self, grant: Grant) -> None:
        """``grant``'s request has reached the platform, or has failed: stamp it now.

        A Redis error is logged, not raised: the request went out, and failing the
        call would send it again. The grant then keeps its first stamp.
        """
        try:
            self._call("sent", grant.id)
        except redis.RedisError as error:
            logger.warning("Could not stamp a %s request as sent: %s", self.name, error)

    def slow_down(self) -> float:
        """The platform answered 429: lower the shared rate; return the new rate."""
        return self._call("slow_down")[1]

    def current_rate(self) -> float:
        return self._call("rate")[1]

    def asking(self, command: str, grant_id: str = "") -> lua.ScriptCall:
        """``command`` (``acquire``, ``sent``) as a call to run with others; its answer
        is ``[wait_ms, rate]``."""
        return lua.ScriptCall(self._script, self._keys, [command, *self._args, grant_id])

    def _call(self, command: str, grant_id: str = "") -> tuple[int, float]:
        wait_ms, rate = self._script(keys=self._keys, args=[command, *self._args, grant_id])
        return int(wait_ms), float(rate)


def platform_limiter(client: redis.Redis, settings: Settings, platform: str) -> SharedRateLimiter:
    """The shared limiter of ``platform`` (``crm``, ``pushwoosh``, ``altcraft``) as the
    settings configure it: its ``*_RATE_LIMIT`` and ``RATE_LIMIT_MARGIN_MS``."""
    return SharedRateLimiter(
        client,
        platform,
        rate=settings.rate_limits[platform],
        margin_ms=settings.worker.rate_limit_margin_ms,
    )
