"""The thread in every worker process that flushes the profile buffer when it is due."""

from __future__ import annotations

import dramatiq

from workers.core.periodic import Periodic
from workers.profiles.buffer import ProfileBuffer


class ProfileFlusher(Periodic):
    """Flushes a :class:`ProfileBuffer` when it is due, checking every 100 ms (or a
    quarter of ``flush_ms`` if that is shorter), and puts back dead flushers' claims
    every fifty checks.

    Parameters:
      buffer: the buffer to flush.
      claim_timeout_s: claims older than this are put back (their flusher died); the
        worker heartbeat timeout is a good value.
    """

    job = "profile flush"
    REAP_EVERY = 50

    def __init__(self, buffer: ProfileBuffer, *, claim_timeout_s: float) -> None:
        super().__init__(interval_s=min(buffer.flush_ms / 1000 / 4, 0.1))
        self.buffer = buffer
        self.claim_timeout_s = claim_timeout_s
        self._ticks = 0

    def tick(self, broker: dramatiq.Broker) -> None:
        self._ticks += 1
        if self._ticks % self.REAP_EVERY == 0:
            self.buffer.reap(self.claim_timeout_s)
        if self.buffer.due():
            self.buffer.flush()
