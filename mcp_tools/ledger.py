"""Each tool call in one short transaction, and the run's ledger of calls (the `ToolCall` table).

When a call carries a run's metadata (`taskchat/run_id`, `taskchat/call_key`), it is recorded in the
same transaction as its effect, so that a retried run that makes the same call again gets the recorded
result instead of a second effect. A task operation and its ledger row run in one hop into SQLAlchemy's
greenlet (`Database.run_in_transaction`): the transaction costs its round trips, not an await each.
The change's events for the user's feed are written last in that transaction; the new reminders' queue
messages and the feed's nudge are sent after the commit, never inside it (`common.userevents`).
"""

import asyncio
import contextlib
import hashlib
import json
import time
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastmcp.exceptions import ToolError
from fastmcp.server.middleware import Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from pydantic import BaseModel
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from common import userevents
from common.db import UNAVAILABLE, Database
from common.models import Run, ToolCall
from common.userevents import AfterCommit

META_RUN_ID = "taskchat/run_id"
META_CALL_KEY = "taskchat/call_key"
# Set on a retried run only: a first attempt has nothing to replay, so it skips the lookup.
META_REPLAY = "taskchat/replay"
# The user's time zone as the worker read it with the run (saves the tools a lookup).
META_TIMEZONE = "taskchat/timezone"

# The metadata of a call made in-process, without an MCP request (see `server.call_in_process`).
in_process_meta: ContextVar[dict[str, Any] | None] = ContextVar("taskchat_tool_meta", default=None)
# A database pool (and a Redis client) belongs to the event loop it runs on, so the binding is per loop.
_Binding = tuple[Database, AfterCommit | None]
_bindings: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Binding]" = weakref.WeakKeyDictionary()
_default_binding: _Binding | None = None


def bind_database(db: Database | None, after_commit: AfterCommit | None = None) -> Database | None:
    """Give the tools their database and what tells Redis about their commits (the hosting process owns
    both; without `after_commit`, new reminders wait for the sweeper and the feed for its readers' poll).
    Returns the database it replaces."""
    global _default_binding
    binding = (db, after_commit) if db is not None else None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # bound before the server's loop starts (`taskchat mcp`)
        previous, _default_binding = _default_binding, binding
        return previous[0] if previous else None
    replaced = _bindings.pop(loop, None)
    if binding is not None:
        _bindings[loop] = binding
    return replaced[0] if replaced else None


def _binding() -> _Binding:
    binding = _bindings.get(asyncio.get_running_loop(), _default_binding)
    if binding is None:
        raise RuntimeError("mcp_tools.ledger.bind_database() was not called")
    return binding


def database() -> Database:
    return _binding()[0]


@dataclass
class Call:
    """The call in progress: its tool and arguments, and the run it is made for, if any."""

    name: str
    arguments: dict[str, Any]
    user_id: str
    run_id: int | None = None
    key: str | None = None
    started: float = 0.0
    zone: str | None = None

    @property
    def recorded(self) -> bool:
        return self.run_id is not None and bool(self.key)


_call: ContextVar[Call | None] = ContextVar("taskchat_tool_call", default=None)


def call_zone() -> str | None:
    call = _call.get()
    return call.zone if call is not None else None


class AlreadyMade(ToolError):
    """The run already made this call: its effect is rolled back with the ledger row, not doubled."""

    def __init__(self) -> None:
        super().__init__("This call was already made for this run.")


async def apply(operation: Callable[..., BaseModel], **kwargs: Any) -> Any:
    """Runs a task operation (`operation(connection, **kwargs)`, synchronous) and, for a run's call, its
    ledger row, in one transaction."""
    call = _call.get()
    db, after_commit = _binding()

    def work(conn: Connection) -> tuple[BaseModel, userevents.Pending | None]:
        userevents.begin(conn)
        result = operation(conn, **kwargs)
        if call is not None and call.recorded:
            # The change's event, if it noted one, goes in the ledger row's statement (a round trip less).
            event = userevents.lone_event(conn, call.user_id)
            seq = _record(conn, call, result=result.model_dump(mode="json"), error=None, event=event)
            if event is not None:
                userevents.written(conn, call.user_id, seq)
        # Last: the user's row it locks comes after the run's, as in every transaction that takes both.
        return result, userevents.finish(conn)

    try:
        result, pending = await db.run_in_transaction(work)
    except IntegrityError:
        raise AlreadyMade() from None
    if after_commit is not None:
        await after_commit.send(pending)
    return result


class RunLedger(Middleware):
    """Names the call for `apply`, replays calls a retried run already made, and records failed calls."""

    async def on_call_tool(self, context: MiddlewareContext[Any], call_next: Any) -> ToolResult:
        request = context.fastmcp_context.request_context if context.fastmcp_context else None
        meta = (request.meta if request else in_process_meta.get()) or {}
        arguments = dict(context.message.arguments or {})
        user_id = str(arguments.pop("user_id", ""))
        run_id, key = meta.get(META_RUN_ID), meta.get(META_CALL_KEY)
        call = Call(
            name=context.message.name,
            arguments=arguments,
            user_id=user_id,
            run_id=int(run_id) if run_id is not None else None,
            key=str(key) if key else None,
            started=time.perf_counter(),
            zone=meta.get(META_TIMEZONE),
        )
        if call.recorded and meta.get(META_REPLAY):
            params = {"run_id": call.run_id, "call_key": call.key, "user_id": user_id}
            recorded = await database().one(_FIND_CALL, params)
            if recorded is not None:
                if recorded["status"] == "error":
                    raise ToolError(recorded["error"] or "Tool call failed.")
                return ToolResult(structured_content=recorded["result"])

        token = _call.set(call)
        try:
            return await call_next(context)  # type: ignore[no-any-return]
        except AlreadyMade:
            raise
        except Exception as exc:
            infrastructure = _infrastructure_error(exc)
            if infrastructure is not None:
                raise infrastructure from None  # not the tool's answer: the caller retries the run
            if call.recorded:
                error = _error_text(exc)
                with contextlib.suppress(ToolError, SQLAlchemyError):
                    await database().run_in_transaction(
                        lambda conn: _record(conn, call, result=None, error=error)
                    )
            raise
        finally:
            _call.reset(token)


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
# Parameters are named p_*: SQLAlchemy reserves the table's column names for the VALUES it derives from
# parameters. The run row's lock orders the calls of one run, so `seq` has no gaps or duplicates; a run
# that is not the caller's user's gives no row.
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
_insert_call = insert(ToolCall).from_select(
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
_RECORD = _insert_call.returning(ToolCall.id)
# The call's row and the change's event (the usual tool call) in one round trip.
_RECORD_WITH_EVENT = userevents.event_after(_insert_call.returning(ToolCall.user_id).cte("recorded"))


def _record(
    conn: Connection, call: Call, *, result: Any, error: str | None, event: tuple[str, Any] | None = None
) -> int:
    """The call's ledger row, and `event` (kind, data) of the call's user with it; the event's number."""
    params = {
        "p_run_id": call.run_id,
        "p_user_id": call.user_id,
        "p_call_key": call.key,
        "p_name": call.name,
        "p_arguments": call.arguments,
        "p_result": result,
        "p_status": "error" if error is not None else "ok",
        "p_error": error,
        "p_duration_ms": round((time.perf_counter() - call.started) * 1000, 3),
    }
    if event is not None:
        params |= {"p_kind": event[0], "p_data": event[1]}
    row = conn.execute(_RECORD if event is None else _RECORD_WITH_EVENT, params).first()
    if row is None:
        raise ToolError(f"Run {call.run_id} not found")
    return int(row.seq) if event is not None else 0
