"""Alembic, configured in code so that `taskchat migrate` needs no alembic.ini."""

import asyncio
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import literal, make_url, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from common.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def wait_for_database(database_url: str, *, timeout_s: float = 60.0) -> None:
    """Retry with backoff: a suspended Neon compute takes seconds to wake."""

    async def ping() -> None:
        engine = create_async_engine(database_url, connect_args={"connect_timeout": 5})
        try:
            async with engine.connect() as conn:
                await conn.execute(select(literal(1)))
        finally:
            await engine.dispose()

    deadline, delay = time.monotonic() + timeout_s, 0.25
    while True:
        try:
            asyncio.run(ping())
            return
        except OperationalError:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def unreachable(database_url: str, *, timeout_s: float) -> str | None:
    """Why the database cannot be used, in one line, or None once it answers (retried up to timeout_s)."""
    try:
        wait_for_database(database_url, timeout_s=timeout_s)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        return f"cannot reach the database at {make_url(database_url).render_as_string()}: {reason}"
    return None


def upgrade(settings: Settings) -> None:
    wait_for_database(settings.database_url)
    command.upgrade(alembic_config(settings.database_url), "head")
