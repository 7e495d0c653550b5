"""The one way to the database: a SQLAlchemy async engine on psycopg 3, per process, and the SQLModel
tables of `common.models`. No engine exists at import time.

Ordinary paths use SQLModel sessions (`Database.sessions`). The statements every chat runs (submit,
claim, tool calls, finish, read-back) are SQLAlchemy Core statements built once, at module level, from
the same tables, and executed here one round trip each: SQLAlchemy caches their compiled SQL, so a call
costs binding its parameters and reading its rows (docs/performance.md has what the layer costs).
"""

import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import event, exc
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.sql import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from common.settings import Settings

SessionFactory = async_sessionmaker[AsyncSession]
Params = Mapping[str, Any] | None

# The database failing, not the statement: the caller answers 503 or retries the job.
UNAVAILABLE: tuple[type[Exception], ...] = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)
# A connection idle this long is pinged before use: a suspended Neon compute or a restarted server has
# dropped it. Busy connections are not pinged (a round trip each, which `pool_pre_ping` would pay on
# every checkout); a query on a dead one fails, and SQLAlchemy then replaces the whole pool.
IDLE_CHECK_S = 5.0


def connect_args(settings: Settings) -> dict[str, object]:
    args: dict[str, object] = {"connect_timeout": settings.db_connect_timeout_s}
    # Neon's pooled endpoint (PgBouncer in transaction mode) cannot keep server-side prepared statements.
    if "-pooler" in (urlsplit(settings.database_url).hostname or ""):
        args["prepare_threshold"] = None
    return args


def make_engine(
    settings: Settings, *, pool_size: int | None = None, pool_timeout_s: float | None = None
) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=pool_timeout_s or settings.db_pool_timeout_s,
        pool_recycle=300,  # a suspended Neon compute drops idle connections
        connect_args=connect_args(settings),
        json_serializer=lambda value: json.dumps(value, default=str),
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Pessimistic disconnect handling, as SQLAlchemy's docs describe it, for idle connections only."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) > IDLE_CHECK_S:
            try:
                sync_engine.dialect.do_ping(dbapi_connection)
            except Exception as error:
                raise exc.DisconnectionError() from error  # the pool retries with a new connection

    @event.listens_for(sync_engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()


class Database:
    """The process's engine, its sessions, and one-statement helpers. Single statements run in
    autocommit (one round trip, no BEGIN/COMMIT); a unit of several statements says so with
    `transaction()`."""

    def __init__(self, settings: Settings, *, pool_size: int | None = None, timeout_s: float | None = None):
        self.engine = make_engine(settings, pool_size=pool_size, pool_timeout_s=timeout_s)
        # The same engine and pool; its connections are in autocommit while checked out.
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessions: SessionFactory = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    async def one(self, statement: Executable, params: Params = None) -> RowMapping | None:
        async with self.autocommit.connect() as conn:
            return (await conn.execute(statement, params)).mappings().first()

    async def all(self, statement: Executable, params: Params = None) -> Sequence[RowMapping]:
        async with self.autocommit.connect() as conn:
            return (await conn.execute(statement, params)).mappings().all()

    async def scalar(self, statement: Executable, params: Params = None) -> Any:
        async with self.autocommit.connect() as conn:
            return (await conn.execute(statement, params)).scalar()

    async def execute(self, statement: Executable, params: Params = None) -> int:
        """Runs a statement that returns no rows; the number of rows it changed."""
        async with self.autocommit.connect() as conn:
            return (await conn.execute(statement, params)).rowcount

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: committed when the block ends, rolled back if it raises."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection (not in autocommit) whose transactions the caller manages."""
        async with self.engine.connect() as conn:
            yield conn

    async def close(self) -> None:
        await self.engine.dispose()
