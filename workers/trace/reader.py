"""An event's trace read back: what happened to it and where it is now
(workers/trace/trace.py says what is written).

A trace is what the SQL store holds of it (moved there once settled: archive.py), then
what Redis still holds. Redis is read first: an entry moved in between is then found in
SQL, and one found in both (moved, not yet taken out of Redis) is counted once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from workers.trace.archive import TraceArchive
from workers.trace.trace import batch_key, decoded, trace_key

#: The dedup key's value: what the receiver made of the event (webhook/intake/enqueue.lua).
QUEUED, BUFFERED = b"1", b"2"

#: The state an event is in after each kind of entry.
STATE_AFTER = {
    "taken": "in_flight",
    "delivered": "delivered",
    "retried": "retrying",
    "postponed": "postponed",
    "paused": "paused",
    "dead_lettered": "dead_lettered",
}


@dataclass
class EventReport:
    """``GET /v1/events/<id>``'s answer; times are ISO 8601 in UTC."""

    id: str
    #: ``queued``, ``buffered``, ``in_flight``, ``retrying``, ``postponed`` (waiting
    #: for its user's earlier profile update), ``paused`` (its platform's circuit is
    #: open), ``delivered``, ``dead_lettered``, or for a profile update ``up_to_date``
    #: (nothing in it newer than what the platform has); ``unknown`` when only its
    #: oldest entries are left.
    state: str
    type: str | None = None
    accepted_at: str | None = None
    attempts: list[dict] = field(default_factory=list)
    #: When the same id was submitted again (answered as a duplicate).
    duplicates: list[str] = field(default_factory=list)
    next_attempt_at: str | None = None
    dead_letter: str | None = None
    #: A profile update's batch: its id, state and attempts.
    batch: dict | None = None
    #: A campaign start's: the dead letters of the profile updates it waited for that
    #: were let go unacknowledged, so it went without them.
    not_waited_for: list[str] = field(default_factory=list)
    #: The W3C ``traceparent`` the caller sent with the event, if any.
    traceparent: str | None = None

    def asdict(self) -> dict:
        return dict(self.__dict__)


def unknown_event(event_id: str, retention_s: int) -> str:
    """What the API, the CLI and the status page say of an id with nothing to show."""
    return (
        f"No event {event_id}: not accepted in the last 24 h, and no trace of it is kept "
        f"(traces last {retention_s} s after their last entry: TRACE_RETENTION_S)."
    )


class TraceReader:
    def __init__(
        self, client: redis.Redis, archive: TraceArchive, *, dedup_prefix: str, dedup_ttl_s: int
    ) -> None:
        self._client = client
        self._archive = archive
        self._dedup_prefix = dedup_prefix
        self._dedup_ttl_ms = dedup_ttl_s * 1000

    def show(self, event_id: str) -> EventReport | None:
        """What is known of ``event_id``; ``None`` if it was not accepted within the
        dedup window and has no trace (never seen, or expired)."""
        with self._client.pipeline(transaction=False) as pipe:
            pipe.get(self._dedup_prefix + event_id)
            pipe.pttl(self._dedup_prefix + event_id)
            pipe.lrange(trace_key(event_id), 0, -1)
            pipe.time()
            seen, ttl_ms, raw, (seconds, micros) = pipe.execute()
        entries = list(decoded(self._whole(trace_key(event_id), raw)))
        if seen is None and not entries:
            return None
        now_ms = seconds * 1000 + micros // 1000
        report = EventReport(id=event_id, state=_initial_state(seen))
        report.type = {QUEUED: "event", BUFFERED: "profile"}.get(seen)
        if seen is not None and ttl_ms > 0:
            report.accepted_at = _iso(now_ms - (self._dedup_ttl_ms - ttl_ms))
        for entry in entries:
            self._apply(report, entry)
        return report

    def _apply(self, report: EventReport, entry: dict) -> None:
        kind = str(entry.get("do"))
        if kind == "duplicate":
            report.duplicates.append(_iso(entry["at"]))
            return
        if kind == "unwaited":
            report.not_waited_for += entry.get("letters") or []
            return
        report.traceparent = report.traceparent or entry.get("traceparent")
        if kind == "batched":
            report.type = "profile"
            report.batch = self._batch(entry)
            report.state = report.batch["state"]
            return
        if entry.get("accepted") and report.accepted_at is None:
            report.accepted_at = _iso(entry["accepted"])
        if entry.get("type"):
            report.type = entry["type"]
        report.state = STATE_AFTER.get(kind, report.state)
        report.next_attempt_at = _iso(entry["next"]) if "next" in entry else None
        if kind == "dead_lettered":
            report.dead_letter = entry.get("dlq")
        if kind != "taken":
            report.attempts.append(_attempt(entry))

    def _batch(self, entry: dict) -> dict:
        """The batch a profile update's fields went out in, with its attempts."""
        batch = entry.get("batch")
        if batch is None:
            return {"id": None, "state": "up_to_date", "attempts": []}
        inner = EventReport(id=batch, state="queued")
        key = batch_key(batch)
        for step in decoded(self._whole(key, self._client.lrange(key, 0, -1))):
            self._apply(inner, step)
        return {
            "id": batch,
            "at": _iso(entry["at"]),
            "behind": bool(entry.get("behind")),
            "state": inner.state,
            "attempts": inner.attempts,
            "next_attempt_at": inner.next_attempt_at,
            "dead_letter": inner.dead_letter,
        }

    def _whole(self, trace: str, in_redis: list[bytes]) -> list[bytes]:
        """The entries of ``trace`` moved to SQL, then those only Redis holds."""
        archived = self._archive.entries(trace)
        moved = Counter(archived)
        newer = []
        for entry in in_redis:
            if moved[entry]:
                moved[entry] -= 1
            else:
                newer.append(entry)
        return archived + newer


def _initial_state(seen: bytes | None) -> str:
    if seen == BUFFERED:
        return "buffered"
    return "queued" if seen is not None else "unknown"


def _attempt(entry: dict) -> dict:
    shown = ("at", "do", "next", "traceparent")
    attempt = {name: value for name, value in entry.items() if name not in shown}
    attempt["at"] = _iso(entry["at"])
    attempt["outcome"] = entry.get("do")
    if "next" in entry:
        attempt["next_attempt_at"] = _iso(entry["next"])
    return attempt


def _iso(ms: float) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
