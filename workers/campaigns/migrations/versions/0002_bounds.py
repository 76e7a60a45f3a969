"""What keeps growth bounded: dead letters past the Redis cap (workers/queue/archive.py),
and an index for the raw message-log rows' retention (workers/campaigns/retention.py).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(256)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failed_at", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_dead_letters_failed_at", "dead_letters", ["failed_at"])
    op.create_index("ix_message_log_rows_fetched_at", "message_log_rows", ["fetched_at"])


def downgrade() -> None:
    op.drop_index("ix_message_log_rows_fetched_at", "message_log_rows")
    op.drop_table("dead_letters")
