"""A circuit breaker per platform, shared by every worker process through Redis.

A platform that fails persistently is not called until it may have healed: while the
circuit is open, a delivery to it is paused instead of tried (its message waits, is
never dead-lettered for it, and the time does not count against ``RETRY_MAX_AGE_S``:
see workers/queue/retry.py), and a single probe call goes through every
``CIRCUIT_PROBE_S``, whoever's message it is. The first success closes the circuit,
and deliveries resume at the rate limit.

A call *fails* when the platform could not answer: a timeout, a connection refused or
reset, a 5xx (or 408, 425). Any other answer, a 4xx or a 429 included, is the platform
working (a 429 is the rate limiter's to handle). The circuit is for a platform that is
down, not one that is degraded: it opens on a failure only when every call has failed
for ``CIRCUIT_FAILING_S`` and at least ``CIRCUIT_MIN_CALLS`` calls in a row did. A
single success in between starts over. So a platform that answers most of its calls
never opens it, over any window: that would take a run of failures both that long
and that many calls long (at 60 s and a call a second, 60 in a row: at half failing,
one chance in 10**18), where a share of failures over a window opens on any unlucky
short run, and two failures alone open it for a platform called rarely. Every call is
also counted, in 10-second buckets kept for an hour: what the status page shows as
each platform's success and error rates.

Each call costs two short scripts (admit, record) besides the rate limiter's two, run
two by two: admit with the limiter's acquire, record with its stamp
(workers/platforms/guards.py).
Opening and closing are logged once for the whole deployment, by the process whose
call tipped it, and counted in ``hookrelay_circuit_transitions``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from workers.core import lua
from workers.core.platform_settings import CircuitConfig
from workers.metrics.counters import CIRCUIT_TRANSITIONS

logger = logging.getLogger(__name__)

BUCKET_S = 10
KEEP_S = 3600
KEY = "hookrelay:circuit:{platform}"
CALLS_KEY = "hookrelay:circuit:{platform}:calls"
#: What a probe answer looks like: go (closed), go (the probe), wait.
CLOSED, PROBE, WAIT = 0, 1, 2
#: The error text kept as a platform's last error (it has no body: errors.py).
ERROR_LIMIT = 300

_SCRIPT = lua.draining(lua.source(__package__, "circuit.lua", lua.CLOCK))


@dataclass(frozen=True)
class Admission:
    """Whether a call may go now; if not, ``wait_ms`` until the next probe."""

    go: bool
    probe: bool = False
    wait_ms: int = 0


class CircuitBreaker:
    """Parameters:
    client: the Redis holding the shared state.
    platform: its name; keys are ``hookrelay:circuit:<platform>*``.
    config: the thresholds (``CIRCUIT_*``).
    """

    def __init__(self, client: redis.Redis, platform: str, config: CircuitConfig) -> None:
        self.platform = platform
        self.config = config
        self._keys = [KEY.format(platform=platform), CALLS_KEY.format(platform=platform)]
        # Off, calls are still counted (the status page's rates), and never open it.
        never = not config.enabled
        self._args = [
            int(config.probe_s * 1000),
            BUCKET_S * 1000,
            KEEP_S * 1000,
            2**50 if never else config.min_calls,
            2**50 if never else int(config.failing_s * 1000),
        ]
        self._script = client.register_script(_SCRIPT)

    def admit(self) -> Admission:
        """Whether a call may go now (always, with the breaker off)."""
        if not self.config.enabled:
            return Admission(go=True)
        return self.admission(self._call("admit"))

    def admission(self, answer: list) -> Admission:
        """What the script's ``admit`` answered, as an :class:`Admission`."""
        if answer[0] == WAIT:
            return Admission(go=False, wait_ms=int(answer[1]))
        if answer[0] == PROBE:
            logger.info("%s circuit open: probing with one call.", self.platform)
        return Admission(go=True, probe=answer[0] == PROBE)

    def succeeded(self) -> None:
        self._record("ok")

    def failed(self, error: BaseException | str) -> None:
        self._record("fail", str(error)[:ERROR_LIMIT])

    def _record(self, outcome: str, error: str = "") -> None:
        """Count one call; log and count a transition it caused. A Redis error is
        logged, not raised: the call was made, and failing it would make it again."""
        try:
            answer = self._call(outcome, error)
        except redis.RedisError as problem:
            logger.warning("Could not record a %s call's outcome: %s", self.platform, problem)
            return
        self.recorded(answer, error)

    def asking(self, command: str, error: str = "") -> lua.ScriptCall:
        """``admit``, ``ok`` or ``fail`` (with its ``error``) as a call to run with
        others; :meth:`admission` and :meth:`recorded` read its answer."""
        return lua.ScriptCall(self._script, self._keys, [command, *self._args, error[:ERROR_LIMIT]])

    def recorded(self, answer: list, error: str = "") -> None:
        """Log and count the transition a recorded call caused, if any."""
        transition, since_ms = answer
        transition = transition.decode() if isinstance(transition, bytes) else transition
        if transition == "opened":
            CIRCUIT_TRANSITIONS.labels(self.platform, "open").inc()
            logger.warning(
                "%s circuit opened: calls failing for %.0f s (last: %s); deliveries "
                "paused, one probe every %g s.",
                self.platform,
                int(since_ms) / 1000,
                error,
                self.config.probe_s,
            )
        elif transition == "closed":
            CIRCUIT_TRANSITIONS.labels(self.platform, "closed").inc()
            logger.warning(
                "%s circuit closed after %.0f s open: deliveries resume.",
                self.platform,
                int(since_ms) / 1000,
            )

    def _call(self, command: str, error: str = "") -> list:
        return self._script(keys=self._keys, args=[command, *self._args, error])
