"""Rebuilds the agent's context from Postgres: the newest turns of the conversation up to the run's own
message (an index range scan on `run (conversation_id, id)`, whatever the conversation's length).

A turn is a user message, the tool calls its run made, and its answer, in that order, even when the
answer was written after a later message arrived. `limit` counts messages (two per turn). Earlier tool
calls let "mark it as done" find the task added a turn ago."""

import json
import math
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.models import Message, Run, ToolCall


async def load_history(session: AsyncSession, *, run: Run, limit: int) -> list[dict[str, Any]]:
    turns = list(
        reversed(
            (
                await session.exec(
                    select(Run)
                    .where(
                        Run.conversation_id == run.conversation_id,
                        Run.user_id == run.user_id,
                        col(Run.id) <= run.id,
                    )
                    .order_by(col(Run.id).desc())
                    .limit(math.ceil(limit / 2))
                )
            ).all()
        )
    )
    # A retried turn (ChatKit's retry) has several runs for one user message: keep the latest.
    latest = {t.user_message_id: t.id for t in turns}
    turns = [t for t in turns if latest[t.user_message_id] == t.id]
    message_ids = [m for t in turns for m in (t.user_message_id, t.assistant_message_id) if m is not None]
    messages = {
        m.id: m
        for m in (
            await session.exec(
                select(Message).where(col(Message.id).in_(message_ids), Message.user_id == run.user_id)
            )
        ).all()
    }
    answered = [t.id for t in turns if t.assistant_message_id is not None and t.id != run.id]
    calls: dict[int, list[ToolCall]] = {}
    if answered:
        rows = await session.exec(
            select(ToolCall)
            .where(col(ToolCall.run_id).in_(answered), ToolCall.user_id == run.user_id)
            .order_by(col(ToolCall.run_id), col(ToolCall.seq))
        )
        for call in rows.all():
            calls.setdefault(call.run_id, []).append(call)

    items: list[dict[str, Any]] = []
    for turn in turns:
        question = messages.get(turn.user_message_id)
        if question is not None:
            items.append({"role": "user", "content": question.content})
        if turn.id == run.id:
            continue  # this run's own earlier attempts are replayed through the tool ledger instead
        for call in calls.get(turn.id or 0, []):
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
        answer = messages.get(turn.assistant_message_id or 0)
        if answer is not None:
            items.append({"role": "assistant", "content": answer.content})
    return items
