"""When a failed delivery is tried again, and when it is given up: a pure decision,
tested without a broker (workers/queue/retry.py applies it in the worker).

- a :class:`~workers.platforms.errors.PermanentError` is given up at once, with the
  platform's status and body as the reason;
- anything else is retried with exponential backoff and jitter, never sooner than the
  platform's ``Retry-After``, until the message is ``max_age_ms`` old (counted from when
  it was accepted), and then given up.

An actor that must wait for something (an event for its user's profile update) raises
:class:`Postponed`: the message is tried again after exactly that pause, which counts as
no failed attempt, and is given up only at ``max_age_ms`` like any other. A delivery
whose platform holds its share of the worker's threads
(:class:`~workers.platforms.errors.Crowded`) waits the same way, a second or two.

A platform whose circuit is open (:class:`~workers.platforms.errors.CircuitOpen`) was
not called: the message waits for the next probe, plus a spread: a quarter of a probe
interval at first, so a short open costs little more than the probe once the circuit
closes, then half of how long the message has waited, up to :data:`MAX_SPREAD_PROBES`
probe intervals, so that during a long outage a large backlog neither churns through
Redis every interval nor comes back in one burst. That wait counts as no attempt, the
message is never given up for it, and its time is kept in the message (``paused_ms``)
and left out of its age.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from workers.platforms.errors import CircuitOpen, Crowded, PermanentError

#: A paused message comes back within this many probe intervals after the next probe.
MAX_SPREAD_PROBES = 4


class Postponed(Exception):
    """Not yet: try this message again in ``delay_ms``, without counting an attempt."""

    def __init__(self, reason: str, *, delay_ms: int) -> None:
        super().__init__(reason)
        self.delay_ms = delay_ms


@dataclass(frozen=True)
class RetryLater:
    delay_ms: int


@dataclass(frozen=True)
class GiveUp:
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """Parameters:
    min_backoff_ms: the pause before the first retry (before jitter).
    max_backoff_ms: the longest pause between two attempts.
    max_age_ms: after this long since acceptance, a failing message is given up.
    """

    min_backoff_ms: int
    max_backoff_ms: int
    max_age_ms: int

    def decide(
        self,
        *,
        attempts: int,
        age_ms: int,
        error: BaseException,
        jitter: Callable[[], float] = random.random,
        paused_ms: int = 0,
    ) -> RetryLater | GiveUp:
        """``attempts`` made so far (≥ 1); ``jitter()`` returns a number in [0, 1);
        ``paused_ms``: how long the message has waited for open circuits already."""
        if isinstance(error, CircuitOpen):
            grown = max(error.probe_ms // 4, paused_ms // 2)
            spread = min(MAX_SPREAD_PROBES * error.probe_ms, grown)
            return RetryLater(error.wait_ms + int(spread * jitter()))
        if isinstance(error, PermanentError):
            return GiveUp(f"permanent: {error}")
        if isinstance(error, Postponed | Crowded):
            if age_ms + error.delay_ms > self.max_age_ms:
                return GiveUp(f"waited {age_ms // 1000} s: {error}")
            # Crowded ones are spread, so they do not all come back at once.
            spread = error.delay_ms if isinstance(error, Crowded) else 0
            return RetryLater(error.delay_ms + int(spread * jitter()))
        backoff = min(self.max_backoff_ms, self.min_backoff_ms * 2 ** (attempts - 1))
        delay = int(backoff / 2 + backoff / 2 * jitter())
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, int(retry_after * 1000))
        if age_ms + delay > self.max_age_ms:
            return GiveUp(
                f"still failing after {attempts} attempts over {age_ms // 1000} s: {error}"
            )
        return RetryLater(delay)
