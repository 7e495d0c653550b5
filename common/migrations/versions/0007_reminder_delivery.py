"""reminder delivery: whether a reminder's queue message was sent; the per-user event feed

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reminders written before this have no message: the sweeper sends them theirs.
    op.add_column("reminder", sa.Column("enqueued", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("userstate", sa.Column("event_seq", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "event",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "seq"),
    )
    op.create_index("ix_event_created_at", "event", ["created_at"])


def downgrade() -> None:
    op.drop_table("event")
    op.drop_column("userstate", "event_seq")
    op.drop_column("reminder", "enqueued")
