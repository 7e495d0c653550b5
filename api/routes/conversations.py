from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import func
from sqlmodel import col, select

from api.deps import CurrentUser, SessionDep
from api.schemas import ConversationId, ConversationList, ErrorResponse, MessageList
from api.services.chat import FIRST_USER_MESSAGE, tool_call_public
from common.errors import ConversationNotFound
from common.models import Conversation, Message, Role, Run, ToolCall

router = APIRouter(tags=["conversations"])
ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorResponse} for code in (401, 403, 404, 422)}


@router.get("/api/{user_id}/conversations", response_model=ConversationList, responses=ERRORS)
async def list_conversations(
    user_id: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, object]:
    """The user's conversations, most recently active first."""
    rows = (
        await session.exec(
            select(Conversation, FIRST_USER_MESSAGE)
            .where(Conversation.user_id == user_id)
            .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
            .offset(offset)
            .limit(limit)
        )
    ).all()
    return {
        "conversations": [
            {
                "id": c.id,
                "created_at": c.created_at,
                "updated_at": c.updated_at,
                "preview": (p[:80] + "…" if p and len(p) > 80 else p),
            }
            for c, p in rows
        ]
    }


@router.get(
    "/api/{user_id}/conversations/{conversation_id}/messages", response_model=MessageList, responses=ERRORS
)
async def list_messages(
    user_id: CurrentUser,
    conversation_id: Annotated[ConversationId, Path()],
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Only messages older than this id.")
    ] = None,
) -> dict[str, object]:
    """A conversation's messages, oldest first; assistant messages carry their tool calls."""
    owned = (
        await session.exec(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        )
    ).one()
    if not owned:
        raise ConversationNotFound(conversation_id)
    stmt = select(Message).where(Message.conversation_id == conversation_id, Message.user_id == user_id)
    if before is not None:
        stmt = stmt.where(col(Message.id) < before)
    messages = list(reversed((await session.exec(stmt.order_by(col(Message.id).desc()).limit(limit))).all()))
    ids = [m.id for m in messages]
    runs = (
        await session.exec(select(Run).where(col(Run.assistant_message_id).in_(ids), Run.user_id == user_id))
    ).all()
    run_by_answer = {r.assistant_message_id: r for r in runs}
    run_by_question = {
        r.user_message_id: r.id
        for r in (
            await session.exec(select(Run).where(col(Run.user_message_id).in_(ids), Run.user_id == user_id))
        ).all()
    }
    calls: dict[int, list[ToolCall]] = {}
    if runs:
        for call in (
            await session.exec(
                select(ToolCall)
                .where(col(ToolCall.run_id).in_([r.id for r in runs]), ToolCall.user_id == user_id)
                .order_by(col(ToolCall.run_id), col(ToolCall.seq))
            )
        ).all():
            calls.setdefault(call.run_id, []).append(call)
    out = []
    for m in messages:
        item: dict[str, object] = {
            "id": m.id,
            "role": m.role,
            "content": m.content,
            "created_at": m.created_at,
        }
        if m.role == Role.assistant and (run := run_by_answer.get(m.id)):
            item["run_id"] = run.id
            item["tool_calls"] = [tool_call_public(c) for c in calls.get(run.id or 0, [])]
        elif m.role == Role.user:
            item["run_id"] = run_by_question.get(m.id)
        out.append(item)
    return {"conversation_id": conversation_id, "messages": out}
