"""The stats store's tables (SQLAlchemy); their history is in migrations/ (Alembic)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CampaignRun(Base):
    """One campaign hookrelay follows: started through it, or first seen in a post hook.

    ``state``: ``starting`` (a start was attempted, its outcome unknown), ``started``,
    or ``external`` (started elsewhere; only its statistics are followed); then
    ``paused``, ``started`` again or ``archived`` after a control action succeeded.
    """

    __tablename__ = "campaign_runs"
    __table_args__ = (sa.UniqueConstraint("platform", "campaign_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(16))
    campaign_id: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(16))
    message_code: Mapped[str | None] = mapped_column(sa.String(128))
    state: Mapped[str] = mapped_column(sa.String(16))
    start_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class StatSnapshot(Base):
    __tablename__ = "stat_snapshots"
    __table_args__ = (sa.UniqueConstraint("run_id", "source", "subject", "metric", "interval"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_runs.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(256))
    metric: Mapped[str] = mapped_column(sa.String(64))
    interval: Mapped[str] = mapped_column(sa.String(32))
    value: Mapped[float] = mapped_column(sa.Float)
    fetched_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class MessageLogRow(Base):
    __tablename__ = "message_log_rows"
    __table_args__ = (sa.UniqueConstraint("run_id", "source", "row_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_runs.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(sa.String(32))
    row_key: Mapped[str] = mapped_column(sa.String(40))
    data: Mapped[dict] = mapped_column(sa.JSON)
    #: Indexed for the retention (MESSAGE_LOG_RETENTION_DAYS, workers/campaigns/retention.py).
    fetched_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
