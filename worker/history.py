"""Rebuilds the agent's context from Postgres: the newest messages of the conversation up to the
run's own user message (an index range scan, whatever the conversation's length), with the tool calls
that earlier answers made, so that "mark it as done" can refer to the task added a turn ago."""

import json
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.models import Message, Role, Run, ToolCall


async def load_history(session: AsyncSession, *, run: Run, limit: int) -> list[dict[str, Any]]:
    stmt = (
        select(Message)
        .where(
            Message.conversation_id == run.conversation_id,
            Message.user_id == run.user_id,
            col(Message.id) <= run.user_message_id,
        )
        .order_by(col(Message.id).desc())
        .limit(limit)
    )
    messages = list(reversed((await session.exec(stmt)).all()))
    answer_ids = [m.id for m in messages if m.role == Role.assistant]
    calls_by_message: dict[int, list[ToolCall]] = {}
    if answer_ids:
        rows = await session.exec(
            select(ToolCall, Run.assistant_message_id)
            .join(Run, col(Run.id) == ToolCall.run_id)
            .where(col(Run.assistant_message_id).in_(answer_ids), ToolCall.user_id == run.user_id)
            .order_by(col(ToolCall.run_id), col(ToolCall.seq))
        )
        for call, message_id in rows.all():
            calls_by_message.setdefault(message_id, []).append(call)

    items: list[dict[str, Any]] = []
    for message in messages:
        for call in calls_by_message.get(message.id or 0, []):
            call_id = f"tc_{call.id}"
            output = json.dumps(call.result) if call.status == "ok" else (call.error or "error")
            items.append(
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": call.name,
                    "arguments": json.dumps(call.arguments),
                }
            )
            items.append({"type": "function_call_output", "call_id": call_id, "output": output})
        items.append({"role": str(message.role), "content": message.content})
    return items
