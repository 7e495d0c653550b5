"""Rebuilds the agent's context from Postgres: the newest turns of the conversation up to the run's own
message (an index range scan on `run (conversation_id, id)`, whatever the conversation's length).

A turn is a user message, the tool calls its run made, and its answer, in that order, even when the
answer was written after a later message arrived. Earlier tool calls let "mark it as done" find the
task added a turn ago. The turns are read in the same statement that claims the run (`worker.run`).
"""

import json
from typing import Any

from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.expression import CTE, Label

from common.models import Message, Run, ToolCall


def turns_json(claimed: CTE) -> Label[Any]:
    """The newest `turns` runs of the claimed run's conversation, oldest first, as one JSON array: each
    with its question, its answer and, for answered earlier turns, its tool calls in order. `claimed` is
    the CTE that claimed the run (its id, user_id and conversation_id)."""
    turn = (
        select(Run.id, Run.user_id, Run.user_message_id, Run.assistant_message_id)
        .join_from(
            Run,
            claimed,
            and_(
                Run.conversation_id == claimed.c.conversation_id,
                Run.user_id == claimed.c.user_id,
                Run.id <= claimed.c.id,
            ),
        )
        .order_by(Run.id.desc())  # type: ignore[union-attr]
        .limit(bindparam("turns"))
        .cte("turn")
    )
    question = Message.__table__.alias("question")  # type: ignore[attr-defined]
    answer = Message.__table__.alias("answer")  # type: ignore[attr-defined]
    call = func.json_build_object(
        "id", ToolCall.id, "name", ToolCall.name, "arguments", ToolCall.arguments, "result", ToolCall.result,
        "status", ToolCall.status, "error", ToolCall.error,
    )  # fmt: skip
    calls = (
        select(func.json_agg(aggregate_order_by(call, ToolCall.seq)))
        .where(ToolCall.run_id == turn.c.id, ToolCall.user_id == turn.c.user_id)
        .scalar_subquery()
    )
    answered_earlier = and_(turn.c.assistant_message_id.is_not(None), turn.c.id != claimed.c.id)
    item = func.json_build_object(
        "run_id", turn.c.id, "user_message_id", turn.c.user_message_id, "question", question.c.content,
        "answer", answer.c.content, "calls", case((answered_earlier, calls)),
    )  # fmt: skip
    joined = turn.outerjoin(
        question, and_(question.c.id == turn.c.user_message_id, question.c.user_id == turn.c.user_id)
    ).outerjoin(answer, and_(answer.c.id == turn.c.assistant_message_id, answer.c.user_id == turn.c.user_id))
    return (
        select(func.coalesce(func.json_agg(aggregate_order_by(item, turn.c.id)), func.json_build_array()))
        .select_from(joined)
        .scalar_subquery()
        .correlate(claimed)
        .label("turns")
    )


def turns_for(limit: int) -> int:
    """`limit` counts messages, two per turn."""
    return (limit + 1) // 2


def history_items(turns: list[dict[str, Any]], *, run_id: int) -> list[dict[str, Any]]:
    # A retried turn (ChatKit's retry) has several runs for one user message: keep the latest.
    latest = {turn["user_message_id"]: turn["run_id"] for turn in turns}
    items: list[dict[str, Any]] = []
    for turn in turns:
        if latest[turn["user_message_id"]] != turn["run_id"]:
            continue
        if turn["question"] is not None:
            items.append({"role": "user", "content": turn["question"]})
        if turn["run_id"] == run_id:
            continue  # this run's own earlier attempts are replayed from their model steps (worker/replay.py)
        for call in turn["calls"] or []:
            call_id = f"tc_{call['id']}"
            output = json.dumps(call["result"]) if call["status"] == "ok" else (call["error"] or "error")
            arguments = json.dumps(call["arguments"])
            items.append(
                {"type": "function_call", "call_id": call_id, "name": call["name"], "arguments": arguments}
            )
            items.append({"type": "function_call_output", "call_id": call_id, "output": output})
        if turn["answer"] is not None:
            items.append({"role": "assistant", "content": turn["answer"]})
    return items
