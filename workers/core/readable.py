"""Times as people read them, in every table and page hookrelay prints: ISO 8601 to
the second, in UTC (``2026-12-01T16:58:55Z``)."""

from __future__ import annotations

from datetime import UTC, datetime

#: What a time that is not known yet reads as.
NEVER = "-"


def readable_time(moment: datetime | float | str | None) -> str:
    """A datetime (naive ones are UTC), Unix seconds or an ISO 8601 string, as
    ``2026-12-01T16:58:55Z``; :data:`NEVER` for ``None``."""
    if moment is None:
        return NEVER
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    elif isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
