"""The one way to the database: a SQLAlchemy async engine on psycopg 3, per process, and the SQLModel
tables of `common.models`. No engine exists at import time.

Ordinary paths use SQLModel sessions (`Database.sessions`). The statements every chat runs (submit,
claim, tool calls, finish, read-back) are SQLAlchemy Core statements built once, at module level, from
the same tables, and executed here one round trip each: SQLAlchemy caches their compiled SQL, so a call
costs binding its parameters and reading its rows (docs/performance.md has what the layer costs).
"""

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Result, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.sql import Executable
from sqlalchemy.util import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from common.settings import Settings

SessionFactory = async_sessionmaker[AsyncSession]
Params = Mapping[str, Any] | None
_T = TypeVar("_T")

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
    settings: Settings,
    *,
    pool_size: int | None = None,
    pool_timeout_s: float | None = None,
    max_overflow: int | None = None,
) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
        pool_timeout=pool_timeout_s or settings.db_pool_timeout_s,
        pool_recycle=300,  # a suspended Neon compute drops idle connections
        # A single statement is its own transaction (one round trip, no BEGIN/COMMIT); units of several
        # statements use `Database.transactional`. A connection that ends its transaction (SQLAlchemy's
        # Connection rolls back what it began) needs no rollback on its way back to the pool.
        isolation_level="AUTOCOMMIT",
        skip_autocommit_rollback=True,
        pool_reset_on_return=None,
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
    """The process's engine, its sessions, and helpers that run one statement, or one unit of work, in a
    single hop into SQLAlchemy's greenlet (the bridge `AsyncSession.run_sync` uses): an `AsyncConnection`
    would pay that hop for the checkout, each statement and the checkin."""

    def __init__(
        self,
        settings: Settings,
        *,
        pool_size: int | None = None,
        timeout_s: float | None = None,
        max_overflow: int | None = None,
    ):
        self.engine = make_engine(
            settings, pool_size=pool_size, pool_timeout_s=timeout_s, max_overflow=max_overflow
        )
        # The same engine and pool, with real transactions (the ORM sessions, units of several statements).
        self.transactional = self.engine.execution_options(isolation_level="READ COMMITTED")
        self.sessions: SessionFactory = async_sessionmaker(
            self.transactional, class_=AsyncSession, expire_on_commit=False
        )

    async def one(self, statement: Executable, params: Params = None) -> RowMapping | None:
        return await greenlet_spawn(self._execute, statement, params, _first)

    async def all(self, statement: Executable, params: Params = None) -> Sequence[RowMapping]:
        return await greenlet_spawn(self._execute, statement, params, _all)

    async def scalar(self, statement: Executable, params: Params = None) -> Any:
        return await greenlet_spawn(self._execute, statement, params, _scalar)

    async def execute(self, statement: Executable, params: Params = None) -> int:
        """Runs a statement that returns no rows; the number of rows it changed."""
        return await greenlet_spawn(self._execute, statement, params, _rowcount)

    async def run_in_transaction(self, work: Callable[[Connection], _T]) -> _T:
        """`work(connection)` runs synchronously in one transaction: committed if it returns, rolled back
        if it raises."""
        return await greenlet_spawn(self._in_transaction, work)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: committed when the block ends, rolled back if it raises."""
        async with self.transactional.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose transactions the caller manages (`async with conn.begin()`)."""
        async with self.transactional.connect() as conn:
            yield conn

    def _execute(self, statement: Executable, params: Params, take: Callable[[Result[Any]], _T]) -> _T:
        with self.engine.sync_engine.connect() as conn:
            return take(conn.execute(statement, params))

    def _in_transaction(self, work: Callable[[Connection], _T]) -> _T:
        with self.transactional.sync_engine.begin() as conn:
            return work(conn)

    async def close(self) -> None:
        await self.engine.dispose()


def _first(result: Result[Any]) -> RowMapping | None:
    return result.mappings().first()


def _all(result: Result[Any]) -> Sequence[RowMapping]:
    return result.mappings().all()


def _scalar(result: Result[Any]) -> Any:
    return result.scalar()


def _rowcount(result: Result[Any]) -> int:
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
