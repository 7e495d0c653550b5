"""The chat use case: persist the turn, enqueue it after the commit, wait for the worker, and read the
answer back from Postgres (the source of truth)."""

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import dramatiq
from sqlalchemy import func
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.observability import RUNS_ACCEPTED
from api.schemas import ChatRequest
from common import logs
from common.db import SessionFactory
from common.errors import Conflict, ConversationNotFound, NotFound, RateLimited, RunTimeout, Unavailable
from common.events import TERMINAL, RunEvent
from common.jobs import run_chat_message
from common.models import FINISHED, Conversation, Message, Role, Run, RunStatus, ToolCall, utcnow

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


async def submit_message(
    session: AsyncSession,
    *,
    user_id: str,
    request: ChatRequest,
    idempotency_key: str | None,
    max_inflight: int,
) -> tuple[Run, bool]:
    """Returns the run and whether it is new (and so must be enqueued)."""
    if idempotency_key:
        existing = await _run_for_key(session, user_id=user_id, key=idempotency_key)
        if existing is not None:
            await _check_same_request(session, existing, request)
            return existing, False

    await check_inflight(session, user_id=user_id, max_inflight=max_inflight)

    if request.conversation_id is not None:
        conversation = (
            await session.exec(
                select(Conversation).where(
                    Conversation.id == request.conversation_id, Conversation.user_id == user_id
                )
            )
        ).first()
        if conversation is None:
            raise ConversationNotFound(request.conversation_id)
        conversation.updated_at = utcnow()
    else:
        conversation = Conversation(user_id=user_id)
        session.add(conversation)
        await session.flush()
    assert conversation.id is not None

    message = Message(
        user_id=user_id, conversation_id=conversation.id, role=Role.user, content=request.message
    )
    session.add(message)
    await session.flush()
    assert message.id is not None
    run = Run(
        user_id=user_id,
        conversation_id=conversation.id,
        user_message_id=message.id,
        idempotency_key=idempotency_key,
    )
    session.add(run)
    try:
        await session.commit()
    except IntegrityError:  # the same key raced in from another request
        await session.rollback()
        existing = await _run_for_key(session, user_id=user_id, key=idempotency_key or "")
        if existing is None:
            raise
        await _check_same_request(session, existing, request)
        return existing, False
    RUNS_ACCEPTED.inc()
    return run, True


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


async def _run_for_key(session: AsyncSession, *, user_id: str, key: str) -> Run | None:
    return (await session.exec(select(Run).where(Run.user_id == user_id, Run.idempotency_key == key))).first()


async def _check_same_request(session: AsyncSession, run: Run, request: ChatRequest) -> None:
    message = await session.get(Message, run.user_message_id)
    same_conversation = request.conversation_id in (None, run.conversation_id)
    if message is None or message.content != request.message or not same_conversation:
        raise Conflict("This Idempotency-Key was already used with a different request.")


def enqueue(broker: dramatiq.Broker, run_id: int, request_id: str | None = None) -> None:
    broker.enqueue(run_chat_message(run_id, request_id=request_id))


async def enqueue_after_commit(broker: dramatiq.Broker, run_id: int) -> None:
    try:
        await asyncio.to_thread(enqueue, broker, run_id, logs.bound().get("request_id"))
    except Exception as exc:
        # The run stays queued in Postgres; the sweeper enqueues it once the broker is back.
        log.warning("chat.enqueue_failed run_id=%s error=%r", run_id, exc)
        raise Unavailable(
            f"The job queue is unavailable; run {run_id} is saved and will be answered later."
        ) from exc


async def wait_until_finished(
    sessions: SessionFactory, events: "asyncio.Queue[RunEvent]", run_id: int, *, timeout_s: float
) -> bool:
    """True once the run is finished. Events are the fast path; Postgres is the fallback."""
    deadline, poll = time.monotonic() + timeout_s, DB_POLL_S
    if await run_finished(sessions, run_id):
        return True
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            event = await asyncio.wait_for(events.get(), timeout=min(remaining, poll))
            if event.event in TERMINAL:
                return True
        except TimeoutError:
            if await run_finished(sessions, run_id):
                return True
            # The poll only covers a lost event: back off, so hundreds of waiters stay cheap.
            poll = min(poll * 2, DB_POLL_MAX_S)
    return False


async def run_finished(sessions: SessionFactory, run_id: int) -> bool:
    """Whether the run is finished; a database blip while waiting is "not yet", not an error."""
    try:
        async with sessions() as session:
            status = (await session.exec(select(Run.status).where(Run.id == run_id))).first()
    except (OperationalError, DBAPIError, PoolTimeout) as exc:
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


async def chat_result(session: AsyncSession, *, run_id: int, user_id: str) -> dict[str, Any]:
    run = (await session.exec(select(Run).where(Run.id == run_id, Run.user_id == user_id))).one()
    if run.status not in FINISHED or run.assistant_message_id is None:
        raise RunTimeout(
            f"Run {run_id} has not finished yet; its answer will land in conversation {run.conversation_id}."
        )
    answer = await session.get(Message, run.assistant_message_id)
    calls = (
        await session.exec(
            select(ToolCall)
            .where(ToolCall.run_id == run_id, ToolCall.user_id == user_id)
            .order_by(col(ToolCall.seq))
        )
    ).all()
    return {
        "conversation_id": run.conversation_id,
        "message_id": run.assistant_message_id,
        "run_id": run.id,
        "response": answer.content if answer else "",
        "tool_calls": [tool_call_public(c) for c in calls],
    }
