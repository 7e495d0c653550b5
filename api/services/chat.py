"""The chat use case: persist the turn, enqueue it after the commit, wait for the worker, and read the
answer back from Postgres (the source of truth). The statements of a chat are hand-written on plain
psycopg (`common.pg`); the ChatKit retry path uses the ORM."""

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.observability import RUNS_ACCEPTED
from api.schemas import ChatRequest
from common import logs
from common.errors import Conflict, ConversationNotFound, NotFound, RateLimited, RunTimeout, Unavailable
from common.events import TERMINAL, RunEvent
from common.jobs import RunQueue, run_chat_message
from common.models import FINISHED, Conversation, Message, Role, Run, RunStatus, ToolCall, utcnow
from common.pg import Database

log = logging.getLogger("taskchat.chat")
DB_POLL_S = 1.0
DB_POLL_MAX_S = 8.0
# Runs older than this no longer count against the in-flight cap (they are the sweeper's business).
INFLIGHT_WINDOW = timedelta(minutes=10)
# A conversation's first user message (its preview or default title), for queries over conversations.
FIRST_USER_MESSAGE = (
    select(Message.content)
    .where(Message.conversation_id == Conversation.id, Message.role == Role.user)
    .order_by(col(Message.id))
    .limit(1)
    .correlate(Conversation)
    .scalar_subquery()
)


# One statement (and so one transaction): the in-flight check, the conversation (this user's, or a new
# one), the user message and the queued run. No row means the cap was hit or the conversation is not
# this user's; `inflight` tells which.
_SUBMIT = """
    WITH inflight AS (
      SELECT count(*) AS n FROM run
      WHERE user_id = %(user_id)s AND status IN ('queued', 'running') AND created_at > now() - %(window)s),
    allowed AS (SELECT (SELECT n FROM inflight) < %(max_inflight)s AS ok),
    existing AS (
      UPDATE conversation SET updated_at = now()
      WHERE id = %(conversation_id)s::integer AND user_id = %(user_id)s AND (SELECT ok FROM allowed)
      RETURNING id),
    created AS (
      INSERT INTO conversation (user_id, created_at, updated_at)
      SELECT %(user_id)s, now(), now() WHERE %(conversation_id)s::integer IS NULL AND (SELECT ok FROM allowed)
      RETURNING id),
    new_message AS (
      INSERT INTO message (user_id, conversation_id, role, content, created_at)
      SELECT %(user_id)s, id, 'user', %(content)s, now()
      FROM (SELECT id FROM existing UNION ALL SELECT id FROM created) AS conversation
      RETURNING id, conversation_id),
    new_run AS (
      INSERT INTO run
        (user_id, conversation_id, user_message_id, status, attempts, idempotency_key, created_at)
      SELECT %(user_id)s, conversation_id, id, 'queued', 0, %(key)s, now() FROM new_message
      RETURNING id, conversation_id, user_message_id, created_at)
    SELECT (SELECT n FROM inflight) AS inflight, new_run.* FROM (SELECT 1) AS one LEFT JOIN new_run ON true
"""
_RUN_FOR_KEY = """
    SELECT r.id, r.conversation_id, r.user_message_id, r.created_at, m.content
    FROM run r JOIN message m ON m.id = r.user_message_id
    WHERE r.user_id = %(user_id)s AND r.idempotency_key = %(key)s
"""


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
        "user_id": user_id,
        "window": INFLIGHT_WINDOW,
        "max_inflight": max_inflight,
        "conversation_id": request.conversation_id,
        "content": request.message,
        "key": idempotency_key,
    }
    try:
        row = await db.one(_SUBMIT, params)
    except psycopg.errors.UniqueViolation:  # the same key raced in from another request
        existing = await _run_for_key(db, user_id=user_id, key=idempotency_key or "", request=request)
        if existing is None:
            raise
        return existing, False
    assert row is not None
    if row["id"] is None:
        if row["inflight"] >= max_inflight:
            raise RateLimited(f"Too many messages in flight ({row['inflight']}); wait for an answer first.")
        raise ConversationNotFound(request.conversation_id or 0)
    RUNS_ACCEPTED.inc()
    return Run(user_id=user_id, idempotency_key=idempotency_key, **_without(row, "inflight")), True


async def _run_for_key(db: Database, *, user_id: str, key: str, request: ChatRequest) -> Run | None:
    row = await db.one(_RUN_FOR_KEY, {"user_id": user_id, "key": key})
    if row is None:
        return None
    if row["content"] != request.message or request.conversation_id not in (None, row["conversation_id"]):
        raise Conflict("This Idempotency-Key was already used with a different request.")
    return Run(user_id=user_id, idempotency_key=key, **_without(row, "content"))


def _without(row: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != name}


async def resubmit_message(
    session: AsyncSession, *, user_id: str, conversation_id: int, message_id: int, max_inflight: int
) -> Run:
    """A new run for a user message already in the conversation (ChatKit's retry). The caller enqueues."""
    await check_inflight(session, user_id=user_id, max_inflight=max_inflight)
    message = (
        await session.exec(
            select(Message).where(
                Message.id == message_id,
                Message.conversation_id == conversation_id,
                Message.user_id == user_id,
                Message.role == Role.user,
            )
        )
    ).first()
    if message is None:
        raise NotFound(f"Message {message_id} not found.")
    run = Run(user_id=user_id, conversation_id=conversation_id, user_message_id=message_id)
    session.add(run)
    await session.commit()
    RUNS_ACCEPTED.inc()
    return run


async def check_inflight(session: AsyncSession, *, user_id: str, max_inflight: int) -> None:
    inflight = (
        await session.exec(
            select(func.count())
            .select_from(Run)
            .where(
                Run.user_id == user_id,
                col(Run.status).in_([RunStatus.queued, RunStatus.running]),
                Run.created_at > utcnow() - INFLIGHT_WINDOW,
            )
        )
    ).one()
    if inflight >= max_inflight:
        raise RateLimited(f"Too many messages in flight ({inflight}); wait for an answer first.")


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


async def wait_until_finished(
    db: Database,
    events: "asyncio.Queue[RunEvent]",
    run_id: int,
    *,
    timeout_s: float,
    maybe_finished: bool = True,
) -> bool:
    """True once the run is finished. Events are the fast path; Postgres is the fallback. A run this
    request has just enqueued (`maybe_finished=False`) cannot have finished before its events were
    awaited, so Postgres is not asked first."""
    deadline, poll = time.monotonic() + timeout_s, DB_POLL_S
    if maybe_finished and await run_finished(db, run_id):
        return True
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            event = await asyncio.wait_for(events.get(), timeout=min(remaining, poll))
            if event.event in TERMINAL:
                return True
        except TimeoutError:
            if await run_finished(db, run_id):
                return True
            # The poll only covers a lost event: back off, so hundreds of waiters stay cheap.
            poll = min(poll * 2, DB_POLL_MAX_S)
    return False


async def run_finished(db: Database, run_id: int) -> bool:
    """Whether the run is finished; a database blip while waiting is "not yet", not an error."""
    try:
        row = await db.one("SELECT status FROM run WHERE id = %(run_id)s", {"run_id": run_id})
    except psycopg.OperationalError as exc:
        log.warning("chat.wait.database_unavailable run_id=%s error=%r", run_id, exc)
        return False
    return row is not None and row["status"] in FINISHED


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


# The answer as the API returns it, tool calls in the order they were made, in one statement.
_RESULT = """
    SELECT r.id AS run_id, r.status, r.conversation_id, r.assistant_message_id AS message_id,
           coalesce(a.content, '') AS response,
           coalesce((SELECT json_agg(json_build_object(
                       'id', t.id, 'name', t.name, 'arguments', t.arguments, 'result', t.result,
                       'status', t.status, 'error', t.error, 'duration_ms', t.duration_ms) ORDER BY t.seq)
                     FROM toolcall t WHERE t.run_id = r.id AND t.user_id = r.user_id), '[]') AS tool_calls
    FROM run r LEFT JOIN message a ON a.id = r.assistant_message_id AND a.user_id = r.user_id
    WHERE r.id = %(run_id)s AND r.user_id = %(user_id)s
"""


async def chat_result(db: Database, *, run_id: int, user_id: str) -> dict[str, Any]:
    row = await db.one(_RESULT, {"run_id": run_id, "user_id": user_id})
    if row is None or row["status"] not in FINISHED or row["message_id"] is None:
        conversation = f" conversation {row['conversation_id']}" if row else " its conversation"
        raise RunTimeout(f"Run {run_id} has not finished yet; its answer will land in{conversation}.")
    del row["status"]
    return row
