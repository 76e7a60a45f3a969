"""Where dead letters go once Redis holds ``DLQ_REDIS_MAX`` of them: the ``dead_letters``
table of the SQL store (``DATABASE_URL``).

A dead letter is an event a user may still want delivered, so none is ever dropped; but
a platform that refuses everything (a revoked key) dead-letters every event, ~1 KB each
in Redis, and Redis is the one place that must never fill up. Past the cap, letters
are written here instead, where disk is cheap; :class:`~workers.queue.deadletters.
DeadLetterQueue` lists, shows, replays and purges both places as one queue.

The table's schema is owned by the stats store's migrations (``0002_dead_letters``).
Rows are the dead letters' fields, the message as JSON text.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

_METADATA = sa.MetaData()

#: The table as migration 0002 creates it.
DEAD_LETTERS = sa.Table(
    "dead_letters",
    _METADATA,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(256)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("failed_at", sa.Float, nullable=False, index=True),
    sa.Column("message", sa.Text, nullable=False),
)
_JSON_COLUMNS = ("error", "message")


class DeadLetterArchive:
    """The dead letters kept in SQL. Entries are the dicts of
    :class:`~workers.queue.deadletters.DeadLetter`'s fields."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> DeadLetterArchive:
        """The archive in the database at ``url`` (``DATABASE_URL``)."""
        return cls(sa.create_engine(url))

    def add(self, entry: dict[str, Any]) -> None:
        row = {**entry, **{name: json.dumps(entry[name]) for name in _JSON_COLUMNS}}
        with self.engine.begin() as connection:
            connection.execute(sa.delete(DEAD_LETTERS).where(DEAD_LETTERS.c.id == entry["id"]))
            connection.execute(sa.insert(DEAD_LETTERS), [row])

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(DEAD_LETTERS)
            ).scalar_one()

    def newest(self, limit: int) -> list[dict[str, Any]]:
        query = sa.select(DEAD_LETTERS).order_by(DEAD_LETTERS.c.failed_at.desc()).limit(limit)
        return self._entries(query)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, in no order."""
        return self._entries(sa.select(DEAD_LETTERS))

    def get(self, letter_id: str) -> dict[str, Any] | None:
        found = self._entries(sa.select(DEAD_LETTERS).where(DEAD_LETTERS.c.id == letter_id))
        return found[0] if found else None

    def delete(self, letter_id: str) -> bool:
        with self.engine.begin() as connection:
            deleted = connection.execute(
                sa.delete(DEAD_LETTERS).where(DEAD_LETTERS.c.id == letter_id)
            )
            return deleted.rowcount == 1

    def purge(self) -> int:
        with self.engine.begin() as connection:
            return connection.execute(sa.delete(DEAD_LETTERS)).rowcount

    def dispose(self) -> None:
        self.engine.dispose()

    def _entries(self, query: sa.Select) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [{**row, **{name: json.loads(row[name]) for name in _JSON_COLUMNS}} for row in rows]
