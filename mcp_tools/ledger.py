"""Each tool call in one short transaction, and the run's ledger of calls (the `ToolCall` table).

When a call carries a run's metadata (`taskchat/run_id`, `taskchat/call_key`), it is recorded in the
same transaction as its effect, so that a retried run that makes the same call again gets the recorded
result instead of a second effect. A task operation and its ledger row run in one hop into SQLAlchemy's
greenlet (`Database.run_in_transaction`): the transaction costs its round trips, not an await each.
The change's events for the user's feed are written last in that transaction; the new reminders' queue
messages and the feed's nudge are sent after the commit, never inside it (`common.userevents`).

A run's call also carries the model responses (steps) that led to it and that are not yet recorded
(`taskchat/steps`, from `worker.replay`): the ledger row's statement records them, so that a retry
replays them. A step another attempt of the run recorded differently refuses the call (`StepConflict`):
this attempt took another path, and its effects are rolled back.
"""

import asyncio
import contextlib
import hashlib
import json
import time
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from fastmcp.exceptions import ToolError
from fastmcp.server.middleware import Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from pydantic import BaseModel
from sqlalchemy import Integer, bindparam, column, func, insert, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from common import userevents
from common.db import UNAVAILABLE, Database
from common.models import ModelStep, Run, ToolCall
from common.userevents import AfterCommit

META_RUN_ID = "taskchat/run_id"
META_CALL_KEY = "taskchat/call_key"
# Set on a retried run only: a first attempt has nothing to replay, so it skips the lookup.
META_REPLAY = "taskchat/replay"
# The user's time zone as the worker read it with the run (saves the tools a lookup).
META_TIMEZONE = "taskchat/timezone"
# The run's model steps not yet recorded, [{"step": n, "output": [...]}], oldest first; and, in the
# result's meta, how many of them the call recorded.
META_STEPS = "taskchat/steps"
META_STEPS_RECORDED = "taskchat/steps_recorded"

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
    steps: list[Any] = field(default_factory=list)
    steps_recorded: int = 0

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


class StepConflict(Exception):
    """Another attempt of the run recorded a different model response for a step this call comes from:
    the call's effect is rolled back, and this attempt must stop (not an answer for the model)."""

    def __init__(self, run_id: int | None) -> None:
        super().__init__(f"Run {run_id}: another attempt recorded a different model response")


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
            seq = _record(
                conn, call, result=result.model_dump(mode="json"), error=None, event=event, steps=call.steps
            )
            if event is not None:
                userevents.written(conn, call.user_id, seq)
        # Last: the user's row it locks comes after the run's, as in every transaction that takes both.
        return result, userevents.finish(conn)

    try:
        result, pending = await db.run_in_transaction(work)
    except IntegrityError:
        raise AlreadyMade() from None
    if call is not None and call.recorded:
        call.steps_recorded = len(call.steps)
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
            steps=list(meta.get(META_STEPS) or ()),
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
            result: ToolResult = await call_next(context)
        except AlreadyMade:
            raise
        except Exception as exc:
            refusal = _not_an_answer(exc)
            if refusal is not None:
                raise refusal from None  # not the tool's answer: the caller retries the run, or stops
            if call.recorded:
                error = _error_text(exc)
                with contextlib.suppress(ToolError, SQLAlchemyError):
                    await database().run_in_transaction(
                        lambda conn: _record(conn, call, result=None, error=error)
                    )
            raise
        finally:
            _call.reset(token)
        if call.steps_recorded:
            result.meta = {**(result.meta or {}), META_STEPS_RECORDED: call.steps_recorded}
        return result


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


def _not_an_answer(exc: BaseException) -> BaseException | None:
    """The database failing under a tool (which FastMCP masks as a ToolError) is no answer to give the
    model: an unreachable database must surface as itself, and so must a step conflict."""
    for error in (exc, exc.__cause__):
        if isinstance(error, (*UNAVAILABLE, StepConflict)):
            return error
    return None


_FIND_CALL = select(ToolCall.status, ToolCall.result, ToolCall.error).where(
    ToolCall.run_id == bindparam("run_id"),
    ToolCall.call_key == bindparam("call_key"),
    ToolCall.user_id == bindparam("user_id"),
)
# Parameters are named p_*: SQLAlchemy reserves the table's column names for the VALUES it derives from
# parameters. The run row's lock orders the calls of one run, so `seq` has no gaps or duplicates; a run
# that is not the caller's user's gives no row. The lock comes first: the steps and the row select from it.
_locked_run = (
    select(Run.id, Run.user_id)
    .where(Run.id == bindparam("p_run_id"), Run.user_id == bindparam("p_user_id"))
    .with_for_update()
    .cte("locked_run")
)
# The call's unrecorded steps: each is written, or is already there with the same output (a parallel call
# of the same response wrote it); one recorded differently by another attempt is not returned.
_STEPS_GIVEN = bindparam("p_steps", type_=JSONB)
_given = (
    func.jsonb_to_recordset(_STEPS_GIVEN)
    .table_valued(column("step", Integer), column("output", JSONB))
    .render_derived(name="given", with_types=True)
)
_new_steps = pg_insert(ModelStep).from_select(
    ["run_id", "step", "output", "created_at"],
    select(_locked_run.c.id, _given.c.step, _given.c.output, func.now()).join_from(
        _locked_run, _given, true()
    ),
)
_kept_steps = (
    _new_steps.on_conflict_do_update(
        index_elements=[ModelStep.run_id, ModelStep.step],
        set_={"output": _new_steps.excluded.output},
        where=ModelStep.output == _new_steps.excluded.output,
    )
    .returning(ModelStep.step)
    .cte("kept_steps")
)
_all_steps_kept = select(func.count()).select_from(_kept_steps).scalar_subquery() == func.jsonb_array_length(
    _STEPS_GIVEN
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
    ).where(_all_steps_kept),
)
_RECORD = _insert_call.returning(ToolCall.id)
# The call's row and the change's event (the usual tool call) in one round trip.
_RECORD_WITH_EVENT = userevents.event_after(_insert_call.returning(ToolCall.user_id).cte("recorded"))
_RUN_OF_USER = select(Run.id).where(Run.id == bindparam("p_run_id"), Run.user_id == bindparam("p_user_id"))


def _record(
    conn: Connection,
    call: Call,
    *,
    result: Any,
    error: str | None,
    event: tuple[str, Any] | None = None,
    steps: list[Any] | None = None,
) -> int:
    """The call's ledger row, with `steps` (the model responses it comes from, not yet recorded), and
    `event` (kind, data) of the call's user with it; the event's number."""
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
        "p_steps": steps or [],
    }
    if event is not None:
        params |= {"p_kind": event[0], "p_data": event[1]}
    row = conn.execute(_RECORD if event is None else _RECORD_WITH_EVENT, params).first()
    if row is None:
        if steps and conn.execute(_RUN_OF_USER, params).first() is not None:
            raise StepConflict(call.run_id)
        raise ToolError(f"Run {call.run_id} not found")
    return int(row.seq) if event is not None else 0
