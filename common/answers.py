"""A finished run's answer as clients get it: the run, its conversation, the assistant's message and the
tool calls in the order they were made. The worker's finish statement returns it for the `done` event
(so that the API answers without reading it back) and the API reads it from Postgres when it has no
such event; one definition keeps the two the same."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from common.models import ToolCall

FIELDS = ("run_id", "conversation_id", "message_id", "response", "tool_calls")

_call = func.json_build_object(
    "id", ToolCall.id, "name", ToolCall.name, "arguments", ToolCall.arguments, "result", ToolCall.result,
    "status", ToolCall.status, "error", ToolCall.error, "duration_ms", ToolCall.duration_ms,
)  # fmt: skip


def tool_calls(run_id: Any, user_id: Any) -> ColumnElement[Any]:
    """The run's tool calls as a JSON array (empty if none), as a scalar subquery."""
    calls = (
        select(func.json_agg(aggregate_order_by(_call, ToolCall.seq)))
        .where(ToolCall.run_id == run_id, ToolCall.user_id == user_id)
        .scalar_subquery()
    )
    return func.coalesce(calls, func.json_build_array())


def carried(data: dict[str, Any]) -> dict[str, Any] | None:
    """The answer a `done` event carries, if it carries one (workers before 2026-12-03 sent the run id)."""
    return data if all(name in data for name in FIELDS) else None
