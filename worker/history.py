"""Rebuilds the agent's context from Postgres: the newest turns of the conversation up to the run's own
message (an index range scan on `run (conversation_id, id)`, whatever the conversation's length).

A turn is a user message, the tool calls its run made, and its answer, in that order, even when the
answer was written after a later message arrived. Earlier tool calls let "mark it as done" find the
task added a turn ago. The turns are read in the same statement that claims the run (`worker.run`).
"""

import json
from typing import Any

# The newest `turns` runs of the claimed run's conversation, oldest first, as one JSON array: each with
# its question, its answer and, for answered earlier turns, its tool calls in order. `claimed` is the
# CTE that claimed the run.
TURNS_JSON = """
    SELECT coalesce(json_agg(json_build_object(
             'run_id', turn.id,
             'user_message_id', turn.user_message_id,
             'question', question.content,
             'answer', answer.content,
             'calls', CASE WHEN turn.assistant_message_id IS NOT NULL AND turn.id <> claimed.id THEN (
               SELECT json_agg(json_build_object(
                        'id', c.id, 'name', c.name, 'arguments', c.arguments, 'result', c.result,
                        'status', c.status, 'error', c.error) ORDER BY c.seq)
               FROM toolcall c WHERE c.run_id = turn.id AND c.user_id = claimed.user_id) END
           ) ORDER BY turn.id), '[]')
    FROM (SELECT id, user_message_id, assistant_message_id FROM run
          WHERE conversation_id = claimed.conversation_id AND user_id = claimed.user_id AND id <= claimed.id
          ORDER BY id DESC LIMIT %(turns)s) AS turn
    LEFT JOIN message question ON question.id = turn.user_message_id AND question.user_id = claimed.user_id
    LEFT JOIN message answer ON answer.id = turn.assistant_message_id AND answer.user_id = claimed.user_id
"""


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
            continue  # this run's own earlier attempts are replayed through the tool ledger instead
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
