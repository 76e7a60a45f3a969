"""Erasing one person from the SQL store: archived dead letters, the platforms'
message-log rows, and statistics kept per recipient.

Each table is read through once, in chunks, and a row in which any text or JSON column
names the person (:meth:`~workers.erasure.person.Person.mentions`) is deleted: a row
holds one recipient, or one message, so nothing of another person goes with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from workers.campaigns.tables import Base, MessageLogRow, StatSnapshot
from workers.erasure.person import Person
from workers.queue.archive import DEAD_LETTERS

#: What a row is kept in, and the platform it came from (for the erasure's report).
TABLES: tuple[sa.Table, ...] = (
    DEAD_LETTERS,
    Base.metadata.tables[MessageLogRow.__tablename__],
    Base.metadata.tables[StatSnapshot.__tablename__],
)
CHUNK = 1000


class SqlStores:
    def __init__(self, engine: sa.Engine, person: Person) -> None:
        self._engine = engine
        self.person = person
        #: The platform sources whose rows named the person, and when each was fetched.
        self.sources: dict[str, datetime] = {}
        #: The event ids of the dead letters erased.
        self.event_ids: set[str] = set()

    def erase(self) -> dict[str, int]:
        """Erased rows per table."""
        return {table.name: self._erase_table(table) for table in TABLES}

    def _erase_table(self, table: sa.Table) -> int:
        (key,) = table.primary_key.columns
        doomed = [row[key.name] for row in self._rows(table) if self._names(table, row)]
        with self._engine.begin() as connection:
            for start in range(0, len(doomed), CHUNK):
                connection.execute(sa.delete(table).where(key.in_(doomed[start : start + CHUNK])))
        return len(doomed)

    def _rows(self, table: sa.Table) -> Iterator[dict[str, Any]]:
        with self._engine.connect() as connection:
            result = connection.execution_options(yield_per=CHUNK).execute(sa.select(table))
            for row in result.mappings():
                yield dict(row)

    def _names(self, table: sa.Table, row: dict[str, Any]) -> bool:
        if not any(self.person.mentions(_value(row[column])) for column in _text_columns(table)):
            return False
        if row.get("event_id"):
            self.event_ids.add(row["event_id"])
        if row.get("source") and isinstance(row.get("fetched_at"), datetime):
            source = row["source"]
            self.sources[source] = max(
                self.sources.get(source, row["fetched_at"]), row["fetched_at"]
            )
        return True


def _text_columns(table: sa.Table) -> list[str]:
    return [
        column.name
        for column in table.columns
        if isinstance(column.type, sa.String | sa.Text | sa.JSON) and not column.primary_key
    ]


def _value(value: Any) -> Any:
    """A column's value, JSON read where it holds some."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
