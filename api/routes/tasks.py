"""`GET /api/{user_id}/tasks`: the user's tasks, read-only (changes go through the agent's tools), with
the filters of `list_tasks`, shown in the user's time zone."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, WithJsonSchema
from sqlalchemy.engine import Connection

from api.deps import CurrentUser
from api.schemas import ErrorResponse, known_time_zones
from common import taskfields
from common.errors import InvalidInput
from common.models import Priority
from common.tasks import LIST_LIMIT, LIST_LIMIT_MAX, Filters, Sort, Status, TaskPublic, list_tasks, user_zone

router = APIRouter(tags=["tasks"])
ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorResponse} for code in (401, 403, 422)}
DateBound = Annotated[
    str | None,
    Query(max_length=40, description="ISO 8601 date-time with offset, or a date (its start, in your zone)."),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
    ),
]
Zone = Annotated[
    str | None,
    Query(max_length=64, description="Show times in this zone (default: the chat's zone)."),
    WithJsonSchema({"type": "string", "enum": sorted(known_time_zones())}),
]


class TaskListResponse(BaseModel):
    timezone: str
    tasks: list[TaskPublic]


@router.get("/api/{user_id}/tasks", response_model=TaskListResponse, responses=ERRORS)
async def get_tasks(
    request: Request,
    user_id: CurrentUser,
    status: Status = "all",
    due_before: DateBound = None,
    due_after: DateBound = None,
    overdue: bool = False,
    priority: Priority | None = None,
    tag: Annotated[str | None, Query(max_length=32, description="One tag (without #).")] = None,
    query: Annotated[
        str | None, Query(max_length=200, description="Words in titles and descriptions.")
    ] = None,
    sort: Sort = "created",
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = LIST_LIMIT,
    timezone: Zone = None,
) -> TaskListResponse:
    """Your tasks, with the filters the assistant's `list_tasks` tool has. Read-only."""
    if timezone is not None and timezone not in known_time_zones():
        raise InvalidInput(
            f"timezone: unknown time zone {timezone!r} (use an IANA name such as Europe/Berlin)"
        )

    def read(conn: Connection) -> TaskListResponse:
        tz = user_zone(conn, user_id, timezone)
        filters = Filters.read(
            tz,
            status=status,
            due_before=due_before,
            due_after=due_after,
            overdue=overdue,
            priority=priority,
            tag=tag,
            query=query,
            sort=sort,
            limit=limit,
        )
        return TaskListResponse(
            timezone=tz.key, tasks=list_tasks(conn, user_id=user_id, tz=tz, filters=filters).tasks
        )

    try:
        return await request.app.state.db.run_in_transaction(read)  # type: ignore[no-any-return]
    except taskfields.InvalidValue as exc:
        raise InvalidInput(str(exc)) from None
