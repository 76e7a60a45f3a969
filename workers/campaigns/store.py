"""The stats store: campaign runs, statistics snapshots and raw message-log rows, in SQL.

SQLite by default (``var/hookrelay.db``), PostgreSQL through ``DATABASE_URL``. The
tables are in tables.py; their schema is owned by Alembic (migrations/) and upgraded
by ``hookrelay migrate`` (schema.py).

Writes are upserts on natural keys, so fetching the same period again replaces the
numbers it fetched before and a page of rows fetched twice is stored once:

- a snapshot is one number: (run, source, subject, metric, interval) → value, where
  ``interval`` is the series' time label and :data:`TOTAL` marks a total;
- a log row is one raw row a platform listed, keyed by a hash of its content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Select

from workers.campaigns.campaign import Campaign
from workers.campaigns.tables import CampaignRun, MessageLogRow, StatSnapshot

#: The ``interval`` of a total (the platform's totals row, or a sum we were given).
TOTAL = ""


@dataclass(frozen=True)
class Snapshot:
    """One number a source reported; ``interval`` is :data:`TOTAL` for a total."""

    subject: str
    metric: str
    interval: str
    value: float


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every one we store is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


class Store:
    """Parameters:
    url: a SQLAlchemy URL (``sqlite:///var/hookrelay.db``, ``postgresql+psycopg://…``).
    engine_options: passed to :func:`sqlalchemy.create_engine` (tests set a schema).
    """

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.engine = sa.create_engine(_driver_url(url), pool_pre_ping=True, **engine_options)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    # --- campaign runs -------------------------------------------------------------

    def run(self, platform: str, campaign_id: int) -> CampaignRun | None:
        query = sa.select(CampaignRun).where(
            CampaignRun.platform == platform, CampaignRun.campaign_id == campaign_id
        )
        runs = self._read(query)
        return runs[0] if runs else None

    def runs(self, limit: int = 20) -> list[CampaignRun]:
        return self._read(
            sa.select(CampaignRun).order_by(CampaignRun.created_at.desc()).limit(limit)
        )

    def ensure_run(self, campaign: Campaign, state: str) -> CampaignRun:
        """The campaign's run, created in ``state`` if it has none yet; a Pushwoosh
        message code the run did not know yet is kept (a post hook may have created the
        run before the start event that names it)."""
        values = {
            "platform": campaign.platform,
            "campaign_id": campaign.campaign_id,
            "kind": campaign.kind,
            "message_code": campaign.message_code,
            "state": state,
            "start_attempts": 0,
            "created_at": _now(),
        }
        statement = self._insert(CampaignRun).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["platform", "campaign_id"],
            set_={
                "message_code": sa.func.coalesce(
                    CampaignRun.message_code, statement.excluded.message_code
                )
            },
        )
        with self.engine.begin() as connection:
            connection.execute(statement)
        run = self.run(campaign.platform, campaign.campaign_id)
        assert run is not None, "just written"
        return run

    def note_start_attempt(self, run_id: int) -> None:
        """Record that a start call is about to be made (its outcome may be lost)."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(CampaignRun)
                .where(CampaignRun.id == run_id)
                .values(state="starting", start_attempts=CampaignRun.start_attempts + 1)
            )

    def mark_started(self, run_id: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(CampaignRun)
                .where(CampaignRun.id == run_id)
                .values(state="started", started_at=_now())
            )

    def set_state(self, platform: str, campaign_id: int, state: str) -> None:
        """Record what the platform was last told (paused, archived, started again)."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(CampaignRun)
                .where(CampaignRun.platform == platform, CampaignRun.campaign_id == campaign_id)
                .values(state=state)
            )

    # --- statistics ----------------------------------------------------------------

    def save_snapshots(self, run_id: int, source: str, snapshots: Iterable[Snapshot]) -> int:
        """Upsert ``snapshots``: a number fetched again replaces the one before."""
        fetched_at = _now()
        values = [
            {
                "run_id": run_id,
                "source": source,
                "subject": snapshot.subject[:256],
                "metric": snapshot.metric[:64],
                "interval": snapshot.interval,
                "value": float(snapshot.value),
                "fetched_at": fetched_at,
            }
            for snapshot in snapshots
        ]
        if not values:
            return 0
        statement = self._insert(StatSnapshot)
        statement = statement.on_conflict_do_update(
            index_elements=["run_id", "source", "subject", "metric", "interval"],
            set_={"value": statement.excluded.value, "fetched_at": statement.excluded.fetched_at},
        )
        with self.engine.begin() as connection:
            connection.execute(statement, values)
        return len(values)

    def save_log_rows(self, run_id: int, source: str, rows: Sequence[dict[str, Any]]) -> int:
        """Store raw rows once each, however often a page is fetched."""
        if not rows:
            return 0
        fetched_at = _now()
        values = [
            {
                "run_id": run_id,
                "source": source,
                "row_key": row_key(row),
                "data": row,
                "fetched_at": fetched_at,
            }
            for row in rows
        ]
        with self.engine.begin() as connection:
            connection.execute(self._insert(MessageLogRow).on_conflict_do_nothing(), values)
        return len(values)

    def snapshots(self, run_id: int) -> list[StatSnapshot]:
        return self._read(
            sa.select(StatSnapshot)
            .where(StatSnapshot.run_id == run_id)
            .order_by(
                StatSnapshot.source,
                StatSnapshot.subject,
                StatSnapshot.metric,
                StatSnapshot.interval,
            )
        )

    def log_rows(self, run_id: int) -> list[dict[str, Any]]:
        """A run's raw rows, as the platforms listed them, in the order stored."""
        query = sa.select(MessageLogRow.data).where(MessageLogRow.run_id == run_id)
        with self.engine.connect() as connection:
            return list(connection.execute(query.order_by(MessageLogRow.id)).scalars())

    def prune_log_rows(self, older_than: datetime) -> int:
        """Delete raw rows fetched before ``older_than``; return how many went."""
        query = sa.delete(MessageLogRow).where(MessageLogRow.fetched_at < older_than)
        with self.engine.begin() as connection:
            return connection.execute(query).rowcount

    def log_counts(self, run_id: int) -> dict[str, int]:
        query = (
            sa.select(MessageLogRow.source, sa.func.count())
            .where(MessageLogRow.run_id == run_id)
            .group_by(MessageLogRow.source)
        )
        with self.engine.connect() as connection:
            return dict(connection.execute(query).all())

    def summary(self, platform: str, campaign_id: int) -> dict[str, Any] | None:
        """A campaign's run, latest totals and time series, as the API and CLI show them:
        ``totals[source][subject][metric]`` and ``series[source][subject][metric]`` as
        ``[interval, value]`` pairs in time order."""
        run = self.run(platform, campaign_id)
        if run is None:
            return None
        totals: dict[str, Any] = {}
        series: dict[str, Any] = {}
        snapshots = self.snapshots(run.id)
        fetched = [snapshot.fetched_at for snapshot in snapshots]
        for snapshot in snapshots:
            if snapshot.interval == TOTAL:
                place = totals.setdefault(snapshot.source, {}).setdefault(snapshot.subject, {})
                place[snapshot.metric] = snapshot.value
            else:
                place = series.setdefault(snapshot.source, {}).setdefault(snapshot.subject, {})
                place.setdefault(snapshot.metric, []).append([snapshot.interval, snapshot.value])
        return {
            "campaign": {
                "platform": run.platform,
                "id": run.campaign_id,
                "kind": run.kind,
                "pushwoosh_message_code": run.message_code,
                "state": run.state,
                "created_at": run.created_at.isoformat(),
                "started_at": run.started_at.isoformat() if run.started_at else None,
            },
            "fetched_at": max(fetched).isoformat() if fetched else None,
            "totals": totals,
            "series": series,
            "log_rows": self.log_counts(run.id),
        }

    def _read(self, query: Select) -> list:
        """ORM objects, detached and fully loaded, with their datetimes in UTC."""
        with Session(self.engine) as session:
            found = list(session.scalars(query))
            session.expunge_all()
        for item in found:
            for column in ("created_at", "started_at", "fetched_at"):
                if hasattr(item, column):
                    setattr(item, column, _aware(getattr(item, column)))
        return found

    def _insert(self, table: type) -> postgresql.Insert | sqlite.Insert:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)


def row_key(row: dict[str, Any]) -> str:
    """A row's identity: the hash of its canonical JSON."""
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(canonical.encode()).hexdigest()


def _driver_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here, the driver hookrelay installs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    """Readers never block the writer, and a busy writer is waited for, not failed."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
