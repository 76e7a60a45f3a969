"""Campaign runs, statistics snapshots and raw message-log rows.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AWARE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("campaign_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("message_code", sa.String(128)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start_attempts", sa.Integer, nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.Column("started_at", AWARE),
        sa.UniqueConstraint("platform", "campaign_id"),
    )
    op.create_table(
        "stat_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        _run_id(),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("interval", sa.String(32), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("fetched_at", AWARE, nullable=False),
        sa.UniqueConstraint("run_id", "source", "subject", "metric", "interval"),
    )
    op.create_table(
        "message_log_rows",
        sa.Column("id", sa.Integer, primary_key=True),
        _run_id(),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("row_key", sa.String(40), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("fetched_at", AWARE, nullable=False),
        sa.UniqueConstraint("run_id", "source", "row_key"),
    )


def _run_id() -> sa.Column:
    foreign_key = sa.ForeignKey("campaign_runs.id", ondelete="CASCADE")
    return sa.Column("run_id", sa.Integer, foreign_key, nullable=False)


def downgrade() -> None:
    op.drop_table("message_log_rows")
    op.drop_table("stat_snapshots")
    op.drop_table("campaign_runs")
