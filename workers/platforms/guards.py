"""The circuit breaker's and the shared rate limit's Redis calls around one platform
call: the circuit's admission with the limit's first ask in one round trip before the
call; the limit's stamp and the circuit's record after it are held writes
(workers/core/roundtrip.py), which go with the thread's next round trip. One round
trip per call instead of four (each a short script; docs/development.md, "Where a
delivery's CPU goes").

Trade-off: the first ask for a slot is made before the circuit's answer is known, so
while a circuit is open, a call it refuses takes a slot of the shared limit for the
window (a second) it would have used. An open circuit calls nothing else, so no call
waits for that slot.
"""

from __future__ import annotations

import logging
from uuid import uuid4

from workers.core.roundtrip import Held, later, run_together
from workers.health.circuit import CircuitBreaker
from workers.metrics.counters import RATE_LIMIT_WAIT
from workers.platforms import errors
from workers.ratelimit.limiter import Grant, SharedRateLimiter

logger = logging.getLogger(__name__)


class CallGuards:
    """Parameters: the ``platform``'s shared ``limiter`` and ``circuit`` (either may be
    ``None``: not guarded by it)."""

    def __init__(
        self, platform: str, limiter: SharedRateLimiter | None, circuit: CircuitBreaker | None
    ) -> None:
        self.platform = platform
        self._limiter = limiter
        self._circuit = circuit
        #: The circuit to ask before a call: none when it is off (calls are still counted).
        self._admitting = circuit if circuit is not None and circuit.config.enabled else None

    def enter(self, method: str, url: str) -> Grant | None:
        """Wait for the circuit and a slot of the limit; raise
        :class:`~.errors.CircuitOpen` while the circuit is open (but for a probe)."""
        grant = Grant(str(uuid4()))
        calls = []
        if self._admitting is not None:
            calls.append(self._admitting.asking("admit"))
        if self._limiter is not None:
            calls.append(self._limiter.asking("acquire", grant.id))
        answers = run_together(calls)
        if self._admitting is not None:
            admission = self._admitting.admission(answers[0])
            if not admission.go:
                raise errors.CircuitOpen(
                    platform=self.platform,
                    method=method,
                    url=url,
                    wait_ms=admission.wait_ms,
                    probe_ms=int(self._admitting.config.probe_s * 1000),
                )
        if self._limiter is None:
            return None
        grant = self._limiter.acquire(grant, int(answers[-1][0]))
        RATE_LIMIT_WAIT.labels(self.platform).observe(grant.waited_s)
        return grant

    def leave(self, grant: Grant | None, failure: str | None) -> None:
        """Stamp ``grant`` as sent and record the call (failed if ``failure`` says
        why), as held writes. A Redis error is logged, not raised: the call was made,
        and failing it would make it again."""
        writes = []
        if self._limiter is not None and grant is not None:
            writes.append(Held(self._limiter.asking("sent", grant.id), self._not_stamped))
        if self._circuit is not None:
            circuit, error = self._circuit, failure or ""
            writes.append(
                Held(
                    circuit.asking("fail" if failure is not None else "ok", error),
                    self._not_stamped,
                    lambda answer: circuit.recorded(answer, error),
                )
            )
        later(*writes)

    def _not_stamped(self, error: Exception) -> None:
        logger.warning("Could not stamp or record a %s call: %s", self.platform, error)
