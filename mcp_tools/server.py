"""The FastMCP server: the five task tools (and `list_reminders`), each call in one short transaction
(`mcp_tools.ledger`), with explicit optional parameters and structured output.

The same server runs in-process inside the worker and standalone over streamable HTTP
(`taskchat mcp`), where a caller is our worker with the service token or a person with their own token
(`mcp_tools.auth`).
"""

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastmcp import FastMCP
from fastmcp.exceptions import DisabledError, FastMCPError, NotFoundError, ToolError
from fastmcp.server.auth import TokenVerifier
from mcp_types import CallToolResult, TextContent
from pydantic import Field
from sqlalchemy.engine import Connection

from common import taskfields
from common.models import DESCRIPTION_MAX, TAGS_MAX, TITLE_MAX
from common.taskfields import InvalidValue
from common.tasks import Filters, Sort, Status, TaskList, TaskPublic, user_zone
from common.tasks import list_tasks as list_task_rows
from mcp_tools import tasks
from mcp_tools.auth import UserScope
from mcp_tools.ledger import RunLedger, apply, bind_database, call_zone, in_process_meta
from mcp_tools.tasks import CompletedTask, ReminderList

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


async def _run(user_id: str, work: Callable[[Connection, ZoneInfo], Any]) -> Any:
    """`work(connection, zone)` in the call's transaction, in the user's time zone; what it rejects, or a
    task it does not find, is a tool error and nothing is written."""
    known = call_zone()

    def operation(conn: Connection) -> Any:
        return work(conn, user_zone(conn, user_id, known))

    try:
        return await apply(operation)
    except (tasks.TaskNotFound, InvalidValue) as exc:
        raise ToolError(str(exc)) from None


def _edit(
    tz: ZoneInfo,
    *,
    title: str | None = None,
    description: str | None = None,
    due_at: str | None = None,
    priority: str | None = None,
    tags: list[str] | None = None,
    remind_at: str | None = None,
    remind_before_minutes: int | None = None,
    repeat: str | None = None,
) -> tasks.Edit:
    """The tools' arguments read in the user's zone; "" clears due_at, remind_at and repeat."""
    return tasks.Edit(
        title=title,
        description=description,
        due=taskfields.moment("due_at", due_at, tz) if due_at else None,
        clear_due=due_at == "",
        priority=taskfields.priority(priority) if priority else None,
        tags=taskfields.tags(tags) if tags is not None else None,
        repeat=taskfields.repeat_rule(repeat) if repeat else None,
        clear_repeat=repeat == "",
        remind_at=taskfields.moment("remind_at", remind_at, tz).at if remind_at else None,
        remind_before_minutes=remind_before_minutes,
        clear_reminder=remind_at == "",
    )


# The schema advertises the limits; the tools check them themselves so that errors read clearly.
TitleArg = Annotated[str, Field(description="Short task title.", json_schema_extra={"maxLength": TITLE_MAX})]
DescriptionArg = Annotated[
    str | None,
    Field(
        description='Optional details. update_task: "" clears them.',
        json_schema_extra={"maxLength": DESCRIPTION_MAX},
    ),
]
UserArg = Annotated[str, Field(description="The user who owns the tasks.")]
TaskIdArg = Annotated[int, Field(description="The task's id, as returned by add_task or list_tasks.")]
DueArg = Annotated[
    str | None,
    Field(
        description="When it is due, in the user's time zone: an ISO 8601 date-time with offset "
        '(2026-12-04T17:00:00+01:00) or a date alone (2026-12-04) for a whole day. update_task: "" '
        "removes the due date."
    ),
]
PriorityArg = Annotated[
    Literal["low", "normal", "high", "urgent"] | None, Field(description="How important (default normal).")
]
TagsArg = Annotated[
    list[str] | None,
    Field(
        description=f"Labels such as work or errands (at most {TAGS_MAX}). update_task: replaces all tags."
    ),
]
RemindArg = Annotated[
    str | None,
    Field(
        description="When to remind the user: an ISO 8601 date-time with offset, in the future. "
        'update_task: "" cancels the reminder.'
    ),
]
RemindBeforeArg = Annotated[
    int | None, Field(ge=0, le=60 * 24 * 366, description="Remind this many minutes before the due time.")
]
RepeatArg = Annotated[
    str | None,
    Field(
        description="Repeat as an RFC 5545 RRULE body, e.g. FREQ=WEEKLY;BYDAY=MO, FREQ=DAILY;INTERVAL=3, "
        'FREQ=MONTHLY;BYMONTHDAY=1. update_task: "" stops repeating.'
    ),
]
RangeArg = Annotated[
    str | None,
    Field(description="An ISO 8601 date-time with offset, or a date (its start, in the user's time zone)."),
]

mcp = FastMCP(
    "taskchat",
    instructions="Manage one user's todo tasks: add, list, complete, delete and update them, with due "
    "dates, priorities, tags, reminders and repeats. Times are in the user's time zone.",
    mask_error_details=True,
)


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False})
async def add_task(
    user_id: UserArg,
    title: TitleArg,
    description: DescriptionArg = None,
    due_at: DueArg = None,
    priority: PriorityArg = None,
    tags: TagsArg = None,
    remind_at: RemindArg = None,
    remind_before_minutes: RemindBeforeArg = None,
    repeat: RepeatArg = None,
) -> TaskPublic:
    """Create a new task. Only the title is required; give a due date, priority, tags, a reminder or a
    repeat rule only when the user asked for them. Returns the created task with its id."""
    user, title, description = _user(user_id), _title(title), _description(description)

    def work(conn: Connection, tz: ZoneInfo) -> TaskPublic:
        edit = _edit(
            tz,
            title=title,
            description=description or None,
            due_at=due_at or None,
            priority=priority,
            tags=tags,
            remind_at=remind_at or None,
            remind_before_minutes=remind_before_minutes,
            repeat=repeat or None,
        )
        return tasks.add_task(conn, user_id=user, tz=tz, edit=edit)

    return await _run(user, work)  # type: ignore[no-any-return]


@mcp.tool(annotations={"readOnlyHint": True, "idempotentHint": True})
async def list_tasks(
    user_id: UserArg,
    status: Status = "all",
    due_before: RangeArg = None,
    due_after: RangeArg = None,
    overdue: Annotated[bool | None, Field(description="Only pending tasks past their due time.")] = None,
    priority: PriorityArg = None,
    tag: Annotated[str | None, Field(description="Only tasks with this tag.")] = None,
    query: Annotated[str | None, Field(description="Words to find in titles and descriptions.")] = None,
    sort: Annotated[
        Sort, Field(description="created (default, oldest first), due (soonest first) or priority.")
    ] = "created",
    limit: Annotated[int, Field(ge=1, le=200, description="At most this many tasks (default 100).")] = 100,
) -> TaskList:
    """List the user's tasks: "pending" (not done), "completed", or "all" (default). Filters combine:
    due_after (inclusive) and due_before (exclusive) bound the due date, e.g. due today is due_after=today
    and due_before=tomorrow."""
    user = _user(user_id)

    def work(conn: Connection, tz: ZoneInfo) -> TaskList:
        filters = Filters.read(
            tz,
            status=status,
            due_before=due_before or None,
            due_after=due_after or None,
            overdue=overdue,
            priority=priority or None,
            tag=tag,
            query=query,
            sort=sort,
            limit=limit,
        )
        return list_task_rows(conn, user_id=user, tz=tz, filters=filters)

    return await _run(user, work)  # type: ignore[no-any-return]


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True})
async def complete_task(user_id: UserArg, task_id: TaskIdArg) -> CompletedTask:
    """Mark a task as completed (its reminder is cancelled). For a repeating task this creates the next
    occurrence, returned as "next": tell the user when it is due. Returns the task."""
    user = _user(user_id)
    return await _run(  # type: ignore[no-any-return]
        user, lambda conn, tz: tasks.complete_task(conn, user_id=user, tz=tz, task_id=task_id)
    )


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False})
async def delete_task(user_id: UserArg, task_id: TaskIdArg) -> TaskPublic:
    """Delete a task for good (and its reminder). Returns the task as it was before deletion."""
    user = _user(user_id)
    return await _run(  # type: ignore[no-any-return]
        user, lambda conn, tz: tasks.delete_task(conn, user_id=user, tz=tz, task_id=task_id)
    )


@mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True})
async def update_task(
    user_id: UserArg,
    task_id: TaskIdArg,
    title: TitleArg | None = None,
    description: DescriptionArg = None,
    due_at: DueArg = None,
    priority: PriorityArg = None,
    tags: TagsArg = None,
    remind_at: RemindArg = None,
    remind_before_minutes: RemindBeforeArg = None,
    repeat: RepeatArg = None,
) -> TaskPublic:
    """Change a task: give only what changes. "" clears a description, due date, reminder or repeat
    rule; tags replaces the whole list ([] removes them). Returns the updated task."""
    user = _user(user_id)
    changes = (title, description, due_at, priority, tags, remind_at, remind_before_minutes, repeat)
    if all(value is None for value in changes):
        raise ToolError(
            "Give something to change: title, description, due_at, priority, tags, reminder or repeat."
        )
    new_title = _title(title) if title is not None else None
    new_description = _description(description)

    def work(conn: Connection, tz: ZoneInfo) -> TaskPublic:
        edit = _edit(
            tz,
            title=new_title,
            description=new_description,
            due_at=due_at,
            priority=priority,
            tags=tags,
            remind_at=remind_at,
            remind_before_minutes=remind_before_minutes,
            repeat=repeat,
        )
        return tasks.update_task(conn, user_id=user, tz=tz, task_id=task_id, edit=edit)

    return await _run(user, work)  # type: ignore[no-any-return]


@mcp.tool(annotations={"readOnlyHint": True, "idempotentHint": True})
async def list_reminders(user_id: UserArg) -> ReminderList:
    """The user's reminders still to come, soonest first, with the task each belongs to."""
    user = _user(user_id)
    return await _run(user, lambda conn, tz: tasks.list_reminders(conn, user_id=user, tz=tz))  # type: ignore[no-any-return]


mcp.add_middleware(RunLedger())


def accept_callers(auth: TokenVerifier) -> None:
    """For `taskchat mcp` over HTTP: who may call (`mcp_tools.auth.CallerAuth`), and the scope of a user's
    own token, which fixes the call's user before the ledger reads it. Not for the worker's in-process
    calls, which carry no token: FastMCP runs every middleware's chain on every call, and this one would
    only pass them on."""
    mcp.auth = auth
    if not any(isinstance(middleware, UserScope) for middleware in mcp.middleware):
        ledger = next(i for i, middleware in enumerate(mcp.middleware) if isinstance(middleware, RunLedger))
        mcp.middleware.insert(ledger, UserScope())


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
