"""user state: the per-user count of runs in flight (the cap's counter)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "userstate",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("runs_in_flight", sa.Integer(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    # Existing users start with the runs they have in flight.
    op.execute(
        """
        INSERT INTO userstate (user_id, runs_in_flight, updated_at)
        SELECT user_id, count(*) FILTER (WHERE status IN ('queued', 'running')), now()
        FROM run GROUP BY user_id
        """
    )


def downgrade() -> None:
    op.drop_table("userstate")
