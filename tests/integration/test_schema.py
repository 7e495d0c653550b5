"""The SQLModel tables are the only description of the schema: the migrations build exactly them."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import common.models  # noqa: F401  (registers the tables)


async def test_the_migrated_database_matches_the_models(db) -> None:
    def differences(connection) -> list:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with db.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []
