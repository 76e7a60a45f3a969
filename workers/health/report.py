"""Each platform's health for the status page and ``/metrics``, read from the record
the circuit breakers keep (workers/health/circuit.py): its state, its calls and
failures over the last 5 and 60 minutes, and its last error."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from workers.health.circuit import BUCKET_S, CALLS_KEY, KEY

#: Where a platform is "degraded": more than this share of the last 5 minutes' calls
#: failed (or its latest call did).
DEGRADED_SHARE = 0.05
SPANS_MIN = (5, 60)


@dataclass(frozen=True)
class Health:
    #: ``healthy``, ``degraded`` or ``circuit open``.
    state: str
    #: minutes → (calls, failed calls) over that many minutes.
    calls: dict[int, tuple[int, int]]
    last_error: str | None = None
    last_error_at: datetime | None = None
    #: When the circuit opened, while it is open.
    opened_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.opened_at is not None

    def error_rate(self, minutes: int) -> float | None:
        """The share of calls that failed over ``minutes``; ``None`` without calls."""
        calls, failed = self.calls[minutes]
        return failed / calls if calls else None


class PlatformHealth:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def read(self, platforms: Iterable[str]) -> dict[str, Health]:
        """Each of ``platforms``' health now (raises :class:`redis.RedisError`)."""
        platforms = list(platforms)
        with self._client.pipeline(transaction=False) as pipe:
            pipe.time()
            for platform in platforms:
                pipe.hgetall(KEY.format(platform=platform))
                pipe.hgetall(CALLS_KEY.format(platform=platform))
            (seconds, _), *answers = pipe.execute()
        return {
            platform: _health(_text(answers[2 * i]), _text(answers[2 * i + 1]), seconds)
            for i, platform in enumerate(platforms)
        }


def _text(mapping: dict) -> dict[str, str]:
    return {key.decode(): value.decode() for key, value in mapping.items()}


def _health(state: dict[str, str], buckets: dict[str, str], now_s: int) -> Health:
    calls = {minutes: _tally(buckets, now_s, minutes) for minutes in SPANS_MIN}
    opened = _moment(state.get("opened"))
    recent, recent_failed = calls[SPANS_MIN[0]]
    if opened is not None:
        health = "circuit open"
    elif "failing_since" in state or recent_failed > DEGRADED_SHARE * recent:
        health = "degraded"
    else:
        health = "healthy"
    return Health(
        state=health,
        calls=calls,
        last_error=state.get("last_error"),
        last_error_at=_moment(state.get("last_error_at")),
        opened_at=opened,
    )


def _tally(buckets: dict[str, str], now_s: int, minutes: int) -> tuple[int, int]:
    """(calls, failed) in the buckets of the last ``minutes``."""
    first = (now_s - minutes * 60) // BUCKET_S + 1
    ok = failed = 0
    for name, count in buckets.items():
        bucket, outcome = name.split(":")
        if int(bucket) >= first:
            if outcome == "ok":
                ok += int(count)
            else:
                failed += int(count)
    return ok + failed, failed


def _moment(ms: str | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(float(ms) / 1000, UTC)
