"""The FastMCP server: five task tools, each call in one short transaction (`mcp_tools.ledger`).

The same server runs in-process inside the worker and standalone over streamable HTTP
(`taskchat mcp`).
"""

import hmac
import logging
from typing import Annotated, Any

from fastmcp import FastMCP
from fastmcp.exceptions import DisabledError, FastMCPError, NotFoundError, ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send

from common.models import DESCRIPTION_MAX, TITLE_MAX
from mcp_tools import tasks
from mcp_tools.ledger import RunLedger, apply, bind_database, in_process_meta
from mcp_tools.tasks import Status, TaskList, TaskPublic

__all__ = ["bind_database", "call_in_process", "mcp"]


def _title(value: str) -> str:
    title = value.strip()
    if not title:
        raise ToolError("Title must not be empty.")
    if len(title) > TITLE_MAX:
        raise ToolError(f"Title must be at most {TITLE_MAX} characters (got {len(title)}).")
    return title


def _description(value: str | None) -> str | None:
    if value is not None and len(value) > DESCRIPTION_MAX:
        raise ToolError(f"Description must be at most {DESCRIPTION_MAX} characters.")
    return value.strip() if value is not None else None


def _user(user_id: str) -> str:
    if not user_id.strip():
        raise ToolError("user_id must not be empty.")
    return user_id


async def _run_task_op(operation: Any, **kwargs: Any) -> Any:
    try:
        return await apply(operation, **kwargs)
    except tasks.TaskNotFound as exc:
        raise ToolError(str(exc)) from None


# The schema advertises the limits; the tools check them themselves so that errors read clearly.
TitleArg = Annotated[str, Field(description="Short task title.", json_schema_extra={"maxLength": TITLE_MAX})]
DescriptionArg = Annotated[
    str | None, Field(description="Optional details.", json_schema_extra={"maxLength": DESCRIPTION_MAX})
]
UserArg = Annotated[str, Field(description="The user who owns the tasks.")]
TaskIdArg = Annotated[int, Field(description="The task's id, as returned by add_task or list_tasks.")]

mcp = FastMCP(
    "taskchat",
    instructions="Manage one user's todo tasks: add, list, complete, delete and update them.",
    mask_error_details=True,
)


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False})
async def add_task(user_id: UserArg, title: TitleArg, description: DescriptionArg = None) -> TaskPublic:
    """Create a new task. Returns the created task with its id."""
    return await _run_task_op(
        tasks.add_task, user_id=_user(user_id), title=_title(title), description=_description(description)
    )


@mcp.tool(annotations={"readOnlyHint": True, "idempotentHint": True})
async def list_tasks(user_id: UserArg, status: Status = "all") -> TaskList:
    """List the user's tasks: "pending" (not done), "completed", or "all" (default), oldest first."""
    return await _run_task_op(tasks.list_tasks, user_id=_user(user_id), status=status)


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True})
async def complete_task(user_id: UserArg, task_id: TaskIdArg) -> TaskPublic:
    """Mark a task as completed. Returns the task."""
    return await _run_task_op(tasks.complete_task, user_id=_user(user_id), task_id=task_id)


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False})
async def delete_task(user_id: UserArg, task_id: TaskIdArg) -> TaskPublic:
    """Delete a task for good. Returns the task as it was before deletion."""
    return await _run_task_op(tasks.delete_task, user_id=_user(user_id), task_id=task_id)


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True})
async def update_task(
    user_id: UserArg, task_id: TaskIdArg, title: TitleArg | None = None, description: DescriptionArg = None
) -> TaskPublic:
    """Change a task's title and/or description. Returns the updated task."""
    if title is None and description is None:
        raise ToolError("Give a new title or description to update.")
    return await _run_task_op(
        tasks.update_task,
        user_id=_user(user_id),
        task_id=task_id,
        title=_title(title) if title is not None else None,
        description=_description(description),
    )


mcp.add_middleware(RunLedger())


async def call_in_process(name: str, arguments: dict[str, Any], meta: dict[str, Any]) -> CallToolResult:
    """Calls a tool of this server from the same process without an MCP client, with the result an MCP
    client would get (tool errors as an error result). The middleware and the tools' argument
    validation run as for a client's call; the JSON-RPC round trip through memory streams, which costs
    more than the tool's own work, does not."""
    token = in_process_meta.set(meta)
    try:
        result = await mcp.call_tool(name, arguments)
    except (DisabledError, NotFoundError):
        return _error_result(f"Unknown tool: {name!r}")
    except FastMCPError as exc:  # ToolError, ValidationError: already masked by the server
        return _error_result(str(exc))
    finally:
        in_process_meta.reset(token)
    mcp_result = result.to_mcp_result()
    if isinstance(mcp_result, CallToolResult):
        return mcp_result
    if isinstance(mcp_result, tuple):
        return CallToolResult(content=mcp_result[0], structured_content=mcp_result[1])
    return CallToolResult(content=mcp_result)


def _error_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


class _ExpectedToolErrors(logging.Filter):
    """A tool error ("Task 42 not found") is an answer for the model, not a server fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        expected = message.startswith("Invalid arguments for tool") or (
            message.startswith("Error calling tool") and not record.exc_info
        )
        return not expected


logging.getLogger("fastmcp.server.server").addFilter(_ExpectedToolErrors())


class ServiceTokenAuth:
    """Every HTTP request to the standalone server needs `Authorization: Bearer $MCP_SERVICE_TOKEN`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error":{"code":"unauthorized","message":"A valid service token is required."}}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
