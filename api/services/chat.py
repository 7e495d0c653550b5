"""The chat use case: persist the turn, enqueue it after the commit, wait for the worker, and read the
answer back from Postgres (the source of truth). A turn's statements are SQLAlchemy Core statements on
the SQLModel tables, built once (`common.db`)."""

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import Integer, bindparam, exists, func, insert, literal, or_, select, true, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select
from sqlmodel import col

from api.observability import RUNS_ACCEPTED
from api.schemas import ChatRequest
from common import answers, logs
from common.db import UNAVAILABLE, Database
from common.errors import Conflict, ConversationNotFound, NotFound, RateLimited, RunTimeout, Unavailable
from common.events import TERMINAL, RunEvent
from common.jobs import RunQueue, run_chat_message
from common.models import FINISHED, Conversation, Message, Role, Run, RunStatus, ToolCall, UserState

log = logging.getLogger("taskchat.chat")
DB_POLL_S = 2.0
DB_POLL_MAX_S = 8.0
# A conversation's first user message (its preview or default title), for queries over conversations.
FIRST_USER_MESSAGE = (
    select(Message.content)
    .where(Message.conversation_id == Conversation.id, Message.role == Role.user)
    .order_by(col(Message.id))
    .limit(1)
    .correlate(Conversation)
    .scalar_subquery()
)

# Parameters of INSERT and UPDATE statements are named p_*: SQLAlchemy reserves a table's column names for
# the VALUES or SET clause it derives from the parameters.
#
# Every new run takes a place under the user's in-flight cap in the statement that creates it: an upsert
# of the user's counter that increments only below the cap. Concurrent requests of one user queue on that
# row and each re-checks the cap against the count the one before it left, so the cap holds without a
# transaction of several statements. Finishing a run gives its place back (worker/run.py).
_user_id = bindparam("p_user_id", type_=UserState.user_id.type)
_upsert = pg_insert(UserState)
# The time zone the request gave (remembered for the user), or none.
_timezone = bindparam("p_timezone", type_=UserState.timezone.type)


def _take_place(allowed: Any) -> Any:
    """The user's counter after taking a place, if `allowed` (a query that gives a row) and under the cap."""
    statement = _upsert.from_select(
        ["user_id", "runs_in_flight", "timezone", "updated_at"],
        select(_user_id, literal(1), func.coalesce(_timezone, "UTC"), func.now()).where(allowed),
    ).on_conflict_do_update(
        index_elements=[UserState.user_id],
        set_={
            "runs_in_flight": UserState.runs_in_flight + 1,
            "timezone": func.coalesce(_timezone, UserState.timezone),
            "updated_at": func.now(),
        },
        where=UserState.runs_in_flight < bindparam("max_inflight"),
    )
    return statement.returning(UserState.runs_in_flight).cte("place")


_NEW_RUN = [Run.id, Run.conversation_id, Run.user_message_id, Run.created_at]


def _accepted(new_run: Any, allowed: Any) -> Select[Any]:
    """Whether the request was allowed (the conversation or message is the user's), and the new run if
    it was created (no run if the cap refused it)."""
    one = select(literal(1).label("one")).subquery("one")
    return select(allowed.label("allowed"), *new_run.c).select_from(one.outerjoin(new_run, true()))


def _insert_run(source: Any, *, key: Any) -> Any:
    return (
        insert(Run)
        .from_select(
            ["user_id", "conversation_id", "user_message_id", "status", "attempts", "idempotency_key"]
            + ["created_at"],
            select(
                _user_id,
                source.c.conversation_id,
                source.c.id,
                literal(RunStatus.queued.value),
                literal(0),
                key,
                func.now(),
            ),
        )
        .returning(*_NEW_RUN)
        .cte("new_run")
    )


# A new turn: a place under the cap, the conversation (this user's, or a new one), the user message and the
# queued run.
_conversation_id = bindparam("p_conversation_id", type_=Integer)
_conversation_is_mine = (
    select(literal(1))
    .where(
        or_(
            _conversation_id.is_(None),
            exists().where(Conversation.id == _conversation_id, Conversation.user_id == _user_id),
        )
    )
    .exists()
)
_place = _take_place(_conversation_is_mine)
_placed = exists(select(_place.c.runs_in_flight))
_existing = (
    update(Conversation)
    .where(Conversation.id == _conversation_id, Conversation.user_id == _user_id, _placed)
    .values(updated_at=func.now())
    .returning(Conversation.id)
    .cte("existing")
)
_created = (
    insert(Conversation)
    .from_select(
        ["user_id", "created_at", "updated_at"],
        select(_user_id, func.now(), func.now()).where(_conversation_id.is_(None), _placed),
    )
    .returning(Conversation.id)
    .cte("created")
)
_target = union_all(select(_existing.c.id), select(_created.c.id)).subquery("target")
_new_message = (
    insert(Message)
    .from_select(
        ["user_id", "conversation_id", "role", "content", "created_at"],
        select(
            _user_id,
            _target.c.id,
            literal(Role.user.value),
            bindparam("p_content", type_=Message.content.type),
            func.now(),
        ),
    )
    .returning(Message.id, Message.conversation_id)
    .cte("new_message")
)
_SUBMIT = _accepted(
    _insert_run(_new_message, key=bindparam("p_key", type_=Run.idempotency_key.type)), _conversation_is_mine
)
# A new run for a user message already in the conversation (ChatKit's retry).
_question_filter = (
    Message.id == bindparam("p_message_id"),
    Message.conversation_id == bindparam("p_conversation_id"),
    Message.user_id == _user_id,
    Message.role == Role.user,
)
_question_is_mine = select(Message.id).where(*_question_filter).exists()
_retry_place = _take_place(_question_is_mine)
_question = (
    select(Message.id, Message.conversation_id)
    .where(*_question_filter, exists(select(_retry_place.c.runs_in_flight)))
    .cte("question")
)
_RESUBMIT = _accepted(_insert_run(_question, key=literal(None, Run.idempotency_key.type)), _question_is_mine)
_RUN_FOR_KEY = (
    select(*_NEW_RUN, Message.content)
    .join_from(Run, Message, Message.id == Run.user_message_id)
    .where(Run.user_id == _user_id, Run.idempotency_key == bindparam("p_key"))
)


async def _accept(db: Database, statement: Select[Any], params: dict[str, Any], max_inflight: int) -> Any:
    row = await db.one(statement, {**params, "max_inflight": max_inflight})
    assert row is not None
    if row["id"] is None and row["allowed"]:
        raise RateLimited(f"Too many messages in flight (at most {max_inflight}); wait for an answer first.")
    return row


def _run(row: Any, **fields: Any) -> Run:
    return Run(**{column.name: row[column.name] for column in _NEW_RUN}, **fields)


async def submit_message(
    db: Database,
    *,
    user_id: str,
    request: ChatRequest,
    idempotency_key: str | None,
    max_inflight: int,
) -> tuple[Run, bool]:
    """Returns the run and whether it is new (and so must be enqueued)."""
    if idempotency_key:
        existing = await _run_for_key(db, user_id=user_id, key=idempotency_key, request=request)
        if existing is not None:
            return existing, False
    params = {
        "p_user_id": user_id,
        "p_conversation_id": request.conversation_id,
        "p_content": request.message,
        "p_key": idempotency_key,
        "p_timezone": request.timezone,
    }
    try:
        row = await _accept(db, _SUBMIT, params, max_inflight)
    except IntegrityError:  # the same key raced in from another request
        existing = await _run_for_key(db, user_id=user_id, key=idempotency_key or "", request=request)
        if existing is None:
            raise
        return existing, False
    if row["id"] is None:
        raise ConversationNotFound(request.conversation_id or 0)
    RUNS_ACCEPTED.inc()
    return _run(row, user_id=user_id, idempotency_key=idempotency_key), True


async def _run_for_key(db: Database, *, user_id: str, key: str, request: ChatRequest) -> Run | None:
    row = await db.one(_RUN_FOR_KEY, {"p_user_id": user_id, "p_key": key})
    if row is None:
        return None
    if row["content"] != request.message or request.conversation_id not in (None, row["conversation_id"]):
        raise Conflict("This Idempotency-Key was already used with a different request.")
    return Run(user_id=user_id, idempotency_key=key, **{k: v for k, v in row.items() if k != "content"})


async def resubmit_message(
    db: Database, *, user_id: str, conversation_id: int, message_id: int, max_inflight: int
) -> Run:
    """A new run for a user message already in the conversation (ChatKit's retry). The caller enqueues."""
    params = {
        "p_user_id": user_id,
        "p_conversation_id": conversation_id,
        "p_message_id": message_id,
        "p_timezone": None,
    }
    row = await _accept(db, _RESUBMIT, params, max_inflight)
    if row["id"] is None:
        raise NotFound(f"Message {message_id} not found.")
    RUNS_ACCEPTED.inc()
    return _run(row, user_id=user_id)


async def enqueue_after_commit(
    queue: RunQueue, run_id: int, *, reply_to: str | None = None, stream: bool = False
) -> None:
    message = run_chat_message(
        run_id, request_id=logs.bound().get("request_id"), reply_to=reply_to, stream=stream
    )
    try:
        await queue.send(message)
    except Exception as exc:
        # The run stays queued in Postgres; the sweeper enqueues it once the broker is back.
        log.warning("chat.enqueue_failed run_id=%s error=%r", run_id, exc)
        raise Unavailable(
            f"The job queue is unavailable; run {run_id} is saved and will be answered later."
        ) from exc


# What `wait_until_finished` gives when Postgres, not an event, said the run is finished.
FINISHED_IN_POSTGRES = RunEvent(0, "done", {})


async def wait_until_finished(
    db: Database,
    events: "asyncio.Queue[RunEvent]",
    run_id: int,
    *,
    timeout_s: float,
    maybe_finished: bool = True,
) -> RunEvent | None:
    """The run's last event once it is finished (`done` or `error`; a `done` without data if Postgres
    said so), None if it did not finish in time. Events are the fast path; Postgres is the fallback. A
    run this request has just enqueued (`maybe_finished=False`) cannot have finished before its events
    were awaited, so Postgres is not asked first."""
    deadline, poll = time.monotonic() + timeout_s, DB_POLL_S
    if maybe_finished and await run_finished(db, run_id):
        return FINISHED_IN_POSTGRES
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            event = await asyncio.wait_for(events.get(), timeout=min(remaining, poll))
            if event.event in TERMINAL:
                return event
        except TimeoutError:
            if await run_finished(db, run_id):
                return FINISHED_IN_POSTGRES
            # The poll only covers a lost event: back off, so hundreds of waiters stay cheap.
            poll = min(poll * 2, DB_POLL_MAX_S)
    return None


RUN_STATUS = select(Run.status).where(Run.id == bindparam("run_id"))


async def run_finished(db: Database, run_id: int) -> bool:
    """Whether the run is finished; a database blip while waiting is "not yet", not an error."""
    try:
        status = await db.scalar(RUN_STATUS, {"run_id": run_id})
    except UNAVAILABLE as exc:
        log.warning("chat.wait.database_unavailable run_id=%s error=%r", run_id, exc)
        return False
    return status in FINISHED


def tool_call_public(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "result": call.result,
        "status": call.status,
        "error": call.error,
        "duration_ms": call.duration_ms,
    }


# The answer as the API returns it (`common.answers`), in one statement.
_RESULT = (
    select(
        Run.id.label("run_id"),
        Run.status,
        Run.conversation_id,
        Run.assistant_message_id.label("message_id"),
        func.coalesce(Message.content, "").label("response"),
        answers.tool_calls(Run.id, Run.user_id).label("tool_calls"),
    )
    .outerjoin_from(Run, Message, (Message.id == Run.assistant_message_id) & (Message.user_id == Run.user_id))
    .where(Run.id == bindparam("run_id"), Run.user_id == bindparam("p_user_id"))
)


async def chat_result(db: Database, *, run_id: int, user_id: str) -> dict[str, Any]:
    row = await db.one(_RESULT, {"run_id": run_id, "p_user_id": user_id})
    if row is None or row["status"] not in FINISHED or row["message_id"] is None:
        conversation = f" conversation {row['conversation_id']}" if row else " its conversation"
        raise RunTimeout(f"Run {run_id} has not finished yet; its answer will land in{conversation}.")
    return {name: value for name, value in row.items() if name != "status"}
