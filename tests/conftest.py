"""Test configuration: every run gets its own PostgreSQL database and Redis key prefix on the
machine's real services, both removed at the end. Settings are set in the environment before any
taskchat module reads them."""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
import redis

RUN_ID = uuid.uuid4().hex[:10]
ADMIN_URL = os.environ.get("TEST_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DB = f"taskchat_test_{RUN_ID}"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CI = os.environ.get("CI") == "true"

os.environ.update(
    {
        "DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + f"/{TEST_DB}",
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": f"taskchat-test-{RUN_ID}",
        "LLM_PROVIDER": "offline",
        "TASKCHAT_HOME": f"/tmp/taskchat-test-{RUN_ID}",
        "ALLOWED_ORIGINS": "http://localhost:3000,https://app.example.com",
        "CHAT_TIMEOUT_S": "15",
        "OPENAI_AGENTS_DISABLE_TRACING": "1",
        # The local development key set: tests mint tokens with it, and so do the processes they start.
        # Production mode is tested with settings of its own (tests/integration/test_production.py).
        "TASKCHAT_ENV": "development",
    }
)
for name in (
    "GEMINI_API_KEY",
    "BETTER_AUTH_URL",
    "BETTER_AUTH_JWKS_URL",
    "AUTH_JWKS_FILE",
    "MCP_URL",
    "MCP_SERVICE_TOKEN",
):
    os.environ.pop(name, None)


def _services_up() -> str | None:
    try:
        psycopg.connect(ADMIN_URL, connect_timeout=2).close()
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def services() -> None:
    problem = _services_up()
    if problem:
        if CI:
            raise RuntimeError(f"PostgreSQL and Redis must be up in CI: {problem}")
        pytest.skip(f"No PostgreSQL/Redis on this machine: {problem}")


@pytest.fixture(scope="session")
def database(services: None) -> Iterator[str]:
    from common.migrate import upgrade
    from common.settings import get_settings

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{TEST_DB}"')
    try:
        upgrade(get_settings())
        yield os.environ["DATABASE_URL"]
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_prefix(services: None) -> Iterator[str]:
    prefix = os.environ["REDIS_PREFIX"]
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)


@pytest.fixture(scope="session")
def settings(database: str, redis_prefix: str):
    from common.settings import get_settings

    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
async def sessions(db):
    return db.sessions


@pytest.fixture(scope="session")
async def db(settings):
    """The test process's database, also bound for in-process tool calls."""
    from common.db import Database
    from mcp_tools.server import bind_database

    database = Database(settings, pool_size=10)
    bind_database(database)
    yield database
    await database.close()


@pytest.fixture
def user_id() -> str:
    """A fresh user per test: tests share the database but never each other's data."""
    return f"user-{uuid.uuid4().hex[:12]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if "/integration/" in path:
            item.add_marker(pytest.mark.integration)
        if "/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


__all__ = ["AsyncIterator"]


@contextlib.contextmanager
def own_database(settings) -> Iterator[object]:
    """Settings for a database of the caller's own, migrated, dropped afterwards: for stacks whose runs
    the session's long-lived workers must not see (their sweepers take over any run whose lease lapses,
    and answer it with the offline model). Call it outside a running event loop (Alembic runs its own)."""
    from common.migrate import upgrade

    name = f"{TEST_DB}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = settings.database_url.rsplit("/", 1)[0] + f"/{name}"
        own = settings.model_copy(update={"database_url": url})
        upgrade(own)
        yield own
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def private_db(settings):
    """`own_database` and a Database on it, for a test that reads what its stack wrote."""
    from common.db import Database

    manager = own_database(settings)
    own = await asyncio.to_thread(manager.__enter__)  # Alembic runs an event loop of its own
    database = Database(own, pool_size=2)
    try:
        yield own, database
    finally:
        await database.close()
        await asyncio.to_thread(manager.__exit__, None, None, None)
