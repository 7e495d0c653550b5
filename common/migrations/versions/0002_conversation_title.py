"""conversation title (ChatKit threads have one; rename sets it)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversation", sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("conversation", "title")
