"""Async engine and sessions on psycopg 3. No engine exists at import time."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from common.settings import Settings

SessionFactory = async_sessionmaker[AsyncSession]


def connect_args(settings: Settings) -> dict[str, object]:
    args: dict[str, object] = {"connect_timeout": settings.db_connect_timeout_s}
    # Neon's pooled endpoint (PgBouncer in transaction mode) cannot keep server-side prepared statements.
    if "-pooler" in (urlsplit(settings.database_url).hostname or ""):
        args["prepare_threshold"] = None
    return args


def make_engine(
    settings: Settings, *, pool_size: int | None = None, pool_timeout_s: float | None = None
) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=pool_timeout_s or settings.db_pool_timeout_s,
        pool_pre_ping=True,
        pool_recycle=300,  # a suspended Neon compute drops idle connections
        connect_args=connect_args(settings),
    )


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A short unit of work: commits on success, rolls back on error."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
