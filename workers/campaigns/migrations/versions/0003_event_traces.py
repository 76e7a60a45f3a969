"""Delivered events' traces, moved out of Redis (workers/trace/archive.py).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_traces",
        sa.Column("trace", sa.String(300), primary_key=True),
        sa.Column("digest", sa.String(16), primary_key=True),
        sa.Column("first_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("entries", sa.Text, nullable=False),
        # SQLite keeps the rows in their primary key's order, not twice (rowid, index).
        sqlite_with_rowid=False,
    )
    op.create_index("ix_event_traces_expires_at", "event_traces", ["expires_at"])


def downgrade() -> None:
    op.drop_table("event_traces")
