"""Where traces go once nothing is under way: the ``event_traces`` table of the SQL
store (``DATABASE_URL``), one row per trace per move (workers/trace/mover.py).

Redis is memory, and a delivered event's trace is read rarely if ever: kept there for
``TRACE_RETENTION_S`` (7 days) it cost ~3.1 KB-days per event, 26 times its dedup key's
(``python -m bench.footprint``). Here it costs disk, and the reader (reader.py) puts a
trace together from its rows, oldest first, then whatever Redis still holds of it.

A row's key is the trace's Redis key and a digest of the entries it holds, so a move
done twice (a worker that died between the SQL commit and the Redis clean-up) writes
the row once. It expires ``TRACE_RETENTION_S`` after its newest entry, as the Redis
list did; :meth:`TraceArchive.prune` deletes what expired. The schema is owned by the
stats store's migrations (``0003_event_traces``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

_METADATA = sa.MetaData()

#: The table as migration 0003 creates it.
EVENT_TRACES = sa.Table(
    "event_traces",
    _METADATA,
    sa.Column("trace", sa.String(300), primary_key=True),
    sa.Column("digest", sa.String(16), primary_key=True),
    sa.Column("first_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
    sa.Column("entries", sa.Text, nullable=False),
    sqlite_with_rowid=False,
)
#: Keys per ``IN (…)`` when deleting the traces of many events.
CHUNK = 500


@dataclass(frozen=True)
class ArchivedTrace:
    """Entries moved from one trace, as Redis held them (JSON objects), oldest first."""

    trace: str
    entries: Sequence[bytes]
    first_at: int
    last_at: int

    def row(self, retention_ms: int) -> dict:
        joined = b"[" + b",".join(self.entries) + b"]"
        return {
            "trace": self.trace,
            "digest": hashlib.blake2b(joined, digest_size=8).hexdigest(),
            "first_at": self.first_at,
            "expires_at": self.last_at + retention_ms,
            "entries": joined.decode(),
        }


class TraceArchive:
    """The traces kept in SQL.

    Parameters:
      engine: the stats store's engine.
      retention_s: how long a row is kept after its newest entry (``TRACE_RETENTION_S``);
        only :meth:`add` needs it.
    """

    def __init__(self, engine: sa.Engine, retention_s: int = 0) -> None:
        self.engine = engine
        self.retention_ms = retention_s * 1000

    def add(self, traces: Iterable[ArchivedTrace]) -> int:
        """Store ``traces`` in one statement; rows already there are left as they are."""
        rows = [trace.row(self.retention_ms) for trace in traces]
        if not rows:
            return 0
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self.engine.begin() as connection:
            connection.execute(dialect.insert(EVENT_TRACES).on_conflict_do_nothing(), rows)
        return len(rows)

    def entries(self, trace: str) -> list[bytes]:
        """The entries kept of ``trace`` (a Redis key), oldest first."""
        query = (
            sa.select(EVENT_TRACES.c.entries)
            .where(EVENT_TRACES.c.trace == trace)
            .order_by(EVENT_TRACES.c.first_at)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).scalars().all()
        return [item for row in rows for item in _split(row)]

    def prune(self, now_ms: int) -> int:
        """Delete the rows expired by ``now_ms``; how many."""
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.delete(EVENT_TRACES).where(EVENT_TRACES.c.expires_at <= now_ms)
            )
            return result.rowcount

    def delete(self, traces: Iterable[str]) -> int:
        """Delete every row of ``traces`` (Redis keys); how many."""
        keys, deleted = list(traces), 0
        with self.engine.begin() as connection:
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                result = connection.execute(
                    sa.delete(EVENT_TRACES).where(EVENT_TRACES.c.trace.in_(chunk))
                )
                deleted += result.rowcount
        return deleted


def _split(row: str) -> list[bytes]:
    """A row's JSON array back into its entries, each as Redis held it."""
    return [bytes(item) for item in msgspec.json.decode(row, type=list[msgspec.Raw])]
