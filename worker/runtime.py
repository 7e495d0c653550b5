"""What a worker process builds once and shares between runs: database, Redis, the connected MCP
tools and the model. Created lazily on the actors' event loop (async clients belong to one loop)."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aredis
from agents import Agent, FunctionTool, Model, set_tracing_disabled
from agents.mcp.util import MCPUtil

from common.db import Database
from common.events import RunEventPublisher
from common.jobs import RunQueue
from common.settings import Settings, get_settings
from common.userevents import AfterCommit
from mcp_tools.server import bind_database
from worker import sdk_setup
from worker.lease import LeaseKeeper
from worker.models import make_model
from worker.tools import TaskTools, tool_failure

set_tracing_disabled(True)  # nothing leaves the machine
sdk_setup.install()
DELIVERIES_AT_ONCE = 12  # of the pool's 20 connections: leave some to the chats


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: aredis.Redis
    events: RunEventPublisher
    tools: TaskTools
    model: Model
    leases: LeaseKeeper
    after_commit: AfterCommit
    # The MCP tools as the SDK's function tools, converted once: handing the agent `mcp_servers` makes the
    # SDK list and convert (deep-copy) every schema on every model turn.
    function_tools: list[FunctionTool] = field(default_factory=list)
    replaced_database: Database | None = None  # the tools' database before this runtime's, for close()
    # Agents of finished runs, for the next ones (worker/run.py): one run uses an agent at a time.
    idle_agents: list[Agent[Any]] = field(default_factory=list)
    agent_template: Agent[Any] | None = None  # what a new one is copied from
    # Reminder deliveries at once: more would only wait for a pooled connection and keep chats waiting
    # for one (a burst of reminders due at the same time).
    deliveries: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(DELIVERIES_AT_ONCE))

    @classmethod
    async def create(cls, settings: Settings) -> "Runtime":
        # Runs wait for a connection rather than fail: the API answers fast, the worker finishes. No
        # overflow: in a burst of hundreds of runs each statement beyond the pool would open and close a
        # connection of its own (CPU here and in PostgreSQL, and the server's connection limit); waiting
        # for one of the pool's is cheaper. The same for Redis: a burst waits for a pooled connection.
        db = Database(settings, pool_size=20, max_overflow=0, timeout_s=30.0)
        pool = aredis.BlockingConnectionPool.from_url(settings.redis_url, max_connections=64, timeout=30)
        client = aredis.Redis(connection_pool=pool)
        after_commit = AfterCommit(client, settings)
        replaced = bind_database(db, after_commit)
        tools = TaskTools(url=settings.mcp_url, token=settings.mcp_service_token)
        await tools.connect()
        function_tools = [
            MCPUtil.to_function_tool(tool, tools, False, failure_error_function=tool_failure)
            for tool in await tools.list_tools()
        ]
        return cls(
            settings,
            db,
            client,
            RunEventPublisher(client, settings.redis_prefix),
            tools,
            make_model(settings, client),
            LeaseKeeper(db),
            after_commit,
            function_tools,
            replaced,
        )

    @property
    def queue(self) -> RunQueue:
        """Sends jobs from the event loop in one awaited round trip (the broker's `enqueue` blocks)."""
        return self.after_commit.queue

    async def close(self) -> None:
        bind_database(self.replaced_database)
        await self.tools.cleanup()
        await self.leases.close()
        await self.model.close()
        await self.redis.aclose()
        await self.db.close()


_runtime: Runtime | None = None
_lock = asyncio.Lock()


async def get_runtime() -> Runtime:
    global _runtime
    async with _lock:
        if _runtime is None:
            _runtime = await Runtime.create(get_settings())
    return _runtime


async def close_runtime() -> None:
    """At the worker's shutdown, once its runs are done: the model's connections, the pools."""
    global _runtime
    async with _lock:
        if _runtime is not None:
            runtime, _runtime = _runtime, None
            await runtime.close()
