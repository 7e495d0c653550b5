"""Plain psycopg for the statements every chat runs (submit, claim, tool calls, finish, read-back).

On a pooled connection a hand-written statement costs about a sixth of the CPU of the same statement
through an ORM session (docs/performance.md), and a chat runs a dozen of them. SQLModel still defines
the schema, and the ORM still serves the cold paths (listings, ChatKit's store, the sweeper).

Connections are in autocommit mode: a single statement is its own transaction, and a unit of work of
several statements says so with `conn.transaction()`.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from common.settings import Settings

Connection = psycopg.AsyncConnection[dict[str, Any]]

# While the database is unreachable, callers fail this fast (503, or a retried job) instead of waiting
# out the pool's timeout, which is there for bursts.
UNREACHABLE_WAIT_S = 1.0
# A connection idle this long is checked before use: a suspended Neon compute or a restarted server
# has dropped it. Busy connections are not checked (a round trip each).
IDLE_CHECK_S = 5.0


def conninfo(settings: Settings) -> str:
    return settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)


class Database:
    def __init__(self, settings: Settings, *, max_size: int, timeout_s: float | None = None) -> None:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "row_factory": dict_row,
            "connect_timeout": settings.db_connect_timeout_s,
        }
        # Neon's pooled endpoint (PgBouncer in transaction mode) cannot keep server-side prepared statements.
        if "-pooler" in (urlsplit(settings.database_url).hostname or ""):
            kwargs["prepare_threshold"] = None
        self.pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            conninfo(settings),
            kwargs=kwargs,
            min_size=1,
            max_size=max_size,
            timeout=timeout_s or settings.db_pool_timeout_s,
            open=False,
            check=_check_if_idle,
            reset=_stamp_idle,
            max_idle=300,
            reconnect_timeout=10,
            name="taskchat",
        )
        self.unreachable = False
        self._drained_at = float("-inf")
        self._draining: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Starts connecting in the background; the first use opens the pool if this was not called."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        if self.pool.closed:
            await self.open()
        try:
            async with self.pool.connection(timeout=UNREACHABLE_WAIT_S if self.unreachable else None) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            self.unreachable = True
            if not isinstance(exc, psycopg.errors.QueryCanceled):
                self._drain()
            raise
        self.unreachable = False

    def _drain(self) -> None:
        # As after a server restart, one broken connection usually means all of them are: replace them
        # all now rather than fail once per pooled connection.
        if time.monotonic() - self._drained_at > 1.0:
            self._drained_at = time.monotonic()
            self._draining = asyncio.get_running_loop().create_task(self.pool.drain())

    async def one(self, query: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        async with self.connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchone()

    async def execute(self, query: str, params: dict[str, Any] | None = None) -> int:
        """Runs a statement that returns no rows; the number of rows it changed."""
        async with self.connection() as conn:
            return (await conn.execute(query, params)).rowcount


async def _check_if_idle(conn: Connection) -> None:
    if time.monotonic() - getattr(conn, "_taskchat_idle_since", 0.0) > IDLE_CHECK_S:
        await AsyncConnectionPool.check_connection(conn)


async def _stamp_idle(conn: Connection) -> None:
    conn._taskchat_idle_since = time.monotonic()  # type: ignore[attr-defined]
