"""The FastMCP server: five task tools, each call in one short transaction.

The same server runs in-process inside the worker and standalone over streamable HTTP
(`taskchat mcp`). When a call carries a run's metadata (`taskchat/run_id`, `taskchat/call_key`), the
call is recorded in the `ToolCall` table in the same transaction as its effect, and a retried run that
makes the same call again gets the recorded result instead of a second effect.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import weakref
from contextvars import ContextVar
from typing import Annotated, Any

from fastmcp import FastMCP
from fastmcp.exceptions import DisabledError, FastMCPError, NotFoundError, ToolError
from fastmcp.server.middleware import Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from mcp_types import CallToolResult, TextContent
from pydantic import Field
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from common.db import UNAVAILABLE, Database
from common.models import DESCRIPTION_MAX, TITLE_MAX, Run, ToolCall
from mcp_tools import tasks
from mcp_tools.tasks import Status, TaskList, TaskPublic

META_RUN_ID = "taskchat/run_id"
META_CALL_KEY = "taskchat/call_key"
# Set on a retried run only: a first attempt has nothing to replay, so it skips the lookup.
META_REPLAY = "taskchat/replay"

_connection: ContextVar[AsyncConnection] = ContextVar("taskchat_tool_connection")
# The metadata of a call made in-process, without an MCP request (see `call_in_process`).
_in_process_meta: ContextVar[dict[str, Any] | None] = ContextVar("taskchat_tool_meta", default=None)
# A database pool belongs to the event loop it runs on, so the binding is per loop.
_databases: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Database]" = weakref.WeakKeyDictionary()
_default_database: Database | None = None


def bind_database(db: Database | None) -> Database | None:
    """Give the tools their database (the hosting process owns the pool); returns the one it replaces."""
    global _default_database
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # bound before the server's loop starts (`taskchat mcp`)
        previous, _default_database = _default_database, db
        return previous
    previous = _databases.pop(loop, None)
    if db is not None:
        _databases[loop] = db
    return previous


def _database() -> Database:
    db = _databases.get(asyncio.get_running_loop(), _default_database)
    if db is None:
        raise RuntimeError("mcp_tools.server.bind_database() was not called")
    return db


def _title(value: str) -> str:
    title = value.strip()
    if not title:
        raise ToolError("Title must not be empty.")
    if len(title) > TITLE_MAX:
        raise ToolError(f"Title must be at most {TITLE_MAX} characters (got {len(title)}).")
    return title


def _description(value: str | None) -> str | None:
    if value is not None and len(value) > DESCRIPTION_MAX:
        raise ToolError(f"Description must be at most {DESCRIPTION_MAX} characters.")
    return value.strip() if value is not None else None


def _user(user_id: str) -> str:
    if not user_id.strip():
        raise ToolError("user_id must not be empty.")
    return user_id


async def _run_task_op(op: Any, **kwargs: Any) -> Any:
    try:
        return await op(_connection.get(), **kwargs)
    except tasks.TaskNotFound as exc:
        raise ToolError(str(exc)) from None


# The schema advertises the limits; the tools check them themselves so that errors read clearly.
TitleArg = Annotated[str, Field(description="Short task title.", json_schema_extra={"maxLength": TITLE_MAX})]
DescriptionArg = Annotated[
    str | None, Field(description="Optional details.", json_schema_extra={"maxLength": DESCRIPTION_MAX})
]
UserArg = Annotated[str, Field(description="The user who owns the tasks.")]
TaskIdArg = Annotated[int, Field(description="The task's id, as returned by add_task or list_tasks.")]

mcp = FastMCP(
    "taskchat",
    instructions="Manage one user's todo tasks: add, list, complete, delete and update them.",
    mask_error_details=True,
)


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False})
async def add_task(user_id: UserArg, title: TitleArg, description: DescriptionArg = None) -> TaskPublic:
    """Create a new task. Returns the created task with its id."""
    return await _run_task_op(
        tasks.add_task, user_id=_user(user_id), title=_title(title), description=_description(description)
    )


@mcp.tool(annotations={"readOnlyHint": True, "idempotentHint": True})
async def list_tasks(user_id: UserArg, status: Status = "all") -> TaskList:
    """List the user's tasks: "pending" (not done), "completed", or "all" (default), oldest first."""
    return await _run_task_op(tasks.list_tasks, user_id=_user(user_id), status=status)


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True})
async def complete_task(user_id: UserArg, task_id: TaskIdArg) -> TaskPublic:
    """Mark a task as completed. Returns the task."""
    return await _run_task_op(tasks.complete_task, user_id=_user(user_id), task_id=task_id)


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False})
async def delete_task(user_id: UserArg, task_id: TaskIdArg) -> TaskPublic:
    """Delete a task for good. Returns the task as it was before deletion."""
    return await _run_task_op(tasks.delete_task, user_id=_user(user_id), task_id=task_id)


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True})
async def update_task(
    user_id: UserArg, task_id: TaskIdArg, title: TitleArg | None = None, description: DescriptionArg = None
) -> TaskPublic:
    """Change a task's title and/or description. Returns the updated task."""
    if title is None and description is None:
        raise ToolError("Give a new title or description to update.")
    return await _run_task_op(
        tasks.update_task,
        user_id=_user(user_id),
        task_id=task_id,
        title=_title(title) if title is not None else None,
        description=_description(description),
    )


def call_key(name: str, arguments: dict[str, Any], occurrence: int) -> str:
    """Names one call within a run: the n-th call of this tool with these arguments."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    return f"{name}:{digest}:{occurrence}"


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ToolError):
        return str(exc)
    text = str(exc).splitlines()
    # pydantic's messages start with "N validation error(s) for call[...]"; keep the useful lines.
    return " ".join(line.strip() for line in text[1:3]) or text[0] if text else type(exc).__name__


class RunLedger(Middleware):
    """One transaction per tool call; records and replays calls made on behalf of a run."""

    async def on_call_tool(self, context: MiddlewareContext[Any], call_next: Any) -> ToolResult:
        db = _database()
        request = context.fastmcp_context.request_context if context.fastmcp_context else None
        meta = (request.meta if request else _in_process_meta.get()) or {}
        run_id, key = meta.get(META_RUN_ID), meta.get(META_CALL_KEY)
        name = context.message.name
        arguments = dict(context.message.arguments or {})
        user_id = str(arguments.pop("user_id", ""))

        if run_id is not None and key and meta.get(META_REPLAY):
            recorded = await db.one(
                _FIND_CALL, {"run_id": int(run_id), "call_key": str(key), "user_id": user_id}
            )
            if recorded is not None:
                if recorded["status"] == "error":
                    raise ToolError(recorded["error"] or "Tool call failed.")
                return ToolResult(structured_content=recorded["result"])

        started = time.perf_counter()
        ledger = (
            {
                "run_id": int(run_id),
                "key": str(key),
                "user_id": user_id,
                "name": name,
                "arguments": arguments,
                "started": started,
            }
            if run_id is not None and key
            else None
        )
        async with db.connection() as conn:
            try:
                async with conn.begin():
                    token = _connection.set(conn)
                    try:
                        result: ToolResult = await call_next(context)
                    finally:
                        _connection.reset(token)
                    if ledger is not None:
                        await _record(conn, **ledger, result=result.structured_content, error=None)
            except IntegrityError:
                # This run already made this call: its effect is rolled back with the ledger row, not doubled.
                raise ToolError("This call was already made for this run.") from None
            except Exception as exc:
                infrastructure = _infrastructure_error(exc)
                if infrastructure is not None:
                    raise infrastructure from None  # not the tool's answer: the caller retries the run
                if ledger is not None:
                    with contextlib.suppress(ToolError, SQLAlchemyError):
                        async with conn.begin():
                            await _record(conn, **ledger, result=None, error=_error_text(exc))
                raise
        return result


def _infrastructure_error(exc: BaseException) -> BaseException | None:
    """The database failing under a tool (which FastMCP masks as a ToolError) is no answer to give the
    model: an unreachable database must surface as itself."""
    for error in (exc, exc.__cause__):
        if isinstance(error, UNAVAILABLE):
            return error
    return None


_FIND_CALL = select(ToolCall.status, ToolCall.result, ToolCall.error).where(
    ToolCall.run_id == bindparam("run_id"),
    ToolCall.call_key == bindparam("call_key"),
    ToolCall.user_id == bindparam("user_id"),
)
# The run row's lock orders the calls of one run, so `seq` has no gaps or duplicates; a run that is not
# the caller's user's gives no row.
_locked_run = (
    select(Run.id, Run.user_id)
    .where(Run.id == bindparam("p_run_id"), Run.user_id == bindparam("p_user_id"))
    .with_for_update()
    .subquery("locked_run")
)
_next_seq = (
    select(func.coalesce(func.max(ToolCall.seq), 0) + 1)
    .where(ToolCall.run_id == _locked_run.c.id)
    .scalar_subquery()
)
_JSON = JSONB(none_as_null=True)
_RECORD = (
    insert(ToolCall)
    .from_select(
        ["run_id", "user_id", "seq", "call_key", "name", "arguments", "result", "status", "error"]
        + ["duration_ms", "created_at"],
        select(
            _locked_run.c.id,
            _locked_run.c.user_id,
            _next_seq,
            bindparam("p_call_key", type_=ToolCall.call_key.type),
            bindparam("p_name", type_=ToolCall.name.type),
            bindparam("p_arguments", type_=_JSON),
            bindparam("p_result", type_=_JSON),
            bindparam("p_status", type_=ToolCall.status.type),
            bindparam("p_error", type_=ToolCall.error.type),
            bindparam("p_duration_ms", type_=ToolCall.duration_ms.type),
            func.now(),
        ),
    )
    .returning(ToolCall.id)
)


async def _record(
    conn: AsyncConnection,
    *,
    run_id: int,
    key: str,
    user_id: str,
    name: str,
    arguments: dict[str, Any],
    result: Any,
    error: str | None,
    started: float,
) -> None:
    params = {
        "p_run_id": run_id,
        "p_user_id": user_id,
        "p_call_key": key,
        "p_name": name,
        "p_arguments": arguments,
        "p_result": result,
        "p_status": "error" if error is not None else "ok",
        "p_error": error,
        "p_duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    if (await conn.execute(_RECORD, params)).first() is None:
        raise ToolError(f"Run {run_id} not found")


mcp.add_middleware(RunLedger())


async def call_in_process(name: str, arguments: dict[str, Any], meta: dict[str, Any]) -> CallToolResult:
    """Calls a tool of this server from the same process without an MCP client, with the result an MCP
    client would get (tool errors as an error result). The middleware and the tools' argument
    validation run as for a client's call; the JSON-RPC round trip through memory streams, which costs
    more than the tool's own work, does not."""
    token = _in_process_meta.set(meta)
    try:
        result = await mcp.call_tool(name, arguments)
    except (DisabledError, NotFoundError):
        return _error_result(f"Unknown tool: {name!r}")
    except FastMCPError as exc:  # ToolError, ValidationError: already masked by the server
        return _error_result(str(exc))
    finally:
        _in_process_meta.reset(token)
    mcp_result = result.to_mcp_result()
    if isinstance(mcp_result, CallToolResult):
        return mcp_result
    if isinstance(mcp_result, tuple):
        return CallToolResult(content=mcp_result[0], structured_content=mcp_result[1])
    return CallToolResult(content=mcp_result)


def _error_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


class _ExpectedToolErrors(logging.Filter):
    """A tool error ("Task 42 not found") is an answer for the model, not a server fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        expected = message.startswith("Invalid arguments for tool") or (
            message.startswith("Error calling tool") and not record.exc_info
        )
        return not expected


logging.getLogger("fastmcp.server.server").addFilter(_ExpectedToolErrors())


class ServiceTokenAuth:
    """Every HTTP request to the standalone server needs `Authorization: Bearer $MCP_SERVICE_TOKEN`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error":{"code":"unauthorized","message":"A valid service token is required."}}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
