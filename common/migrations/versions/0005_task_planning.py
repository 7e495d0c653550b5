"""tasks people plan with: due dates, priorities, tags, completion time, repeats and search; reminders;
the user's time zone

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.add_column("task", sa.Column("completed_at", UTC_DATETIME(), nullable=True))
    op.add_column("task", sa.Column("due_at", UTC_DATETIME(), nullable=True))
    op.add_column("task", sa.Column("all_day", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("task", sa.Column("priority", sa.String(length=8), server_default="normal", nullable=False))
    op.add_column(
        "task", sa.Column("tags", postgresql.ARRAY(sa.String(length=32)), server_default="{}", nullable=False)
    )
    op.add_column("task", sa.Column("repeat", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
    op.add_column(
        "task",
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('english'::regconfig, title || ' ' || coalesce(description, ''))", persisted=True
            ),
            nullable=True,
        ),
    )
    # Tasks completed before completion times were kept: their last change is the best guess.
    op.execute("UPDATE task SET completed_at = updated_at WHERE completed")
    op.create_index("ix_task_user_id_due_at", "task", ["user_id", "due_at"])
    op.create_index("ix_task_tags", "task", ["tags"], postgresql_using="gin")
    op.create_index("ix_task_search", "task", ["search"], postgresql_using="gin")

    op.add_column(
        "userstate", sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
    )

    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("remind_at", UTC_DATETIME(), nullable=False),
        sa.Column("before_due_minutes", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.Column("delivered_at", UTC_DATETIME(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index(
        "ux_reminder_task_id_pending",
        "reminder",
        ["task_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_reminder_due", "reminder", ["remind_at"], postgresql_where=sa.text("status = 'pending'")
    )
    op.create_index("ix_reminder_user_id_remind_at", "reminder", ["user_id", "remind_at"])


def downgrade() -> None:
    op.drop_table("reminder")
    op.drop_column("userstate", "timezone")
    op.drop_index("ix_task_search", table_name="task")
    op.drop_index("ix_task_tags", table_name="task")
    op.drop_index("ix_task_user_id_due_at", table_name="task")
    for column in ("search", "repeat", "tags", "priority", "all_day", "due_at", "completed_at"):
        op.drop_column("task", column)
