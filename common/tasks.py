"""The task read model shared by the tools and the API: how a task is shown (in the user's time zone),
and the listing query with its filters. Synchronous, on a `Connection` in SQLAlchemy's greenlet
(`Database.run_in_transaction`). Every statement is scoped by `user_id`."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, case, func, nulls_last, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from common import taskfields
from common.models import SEARCH_CONFIG, Priority, Reminder, ReminderStatus, Task, UserState

Status = Literal["all", "pending", "completed"]
Sort = Literal["created", "due", "priority"]
LIST_LIMIT = 100
LIST_LIMIT_MAX = 200


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    completed: bool
    completed_at: datetime | None
    due_at: datetime | None
    all_day: bool
    priority: Priority
    tags: list[str]
    remind_at: datetime | None = None
    repeat: str | None
    created_at: datetime
    updated_at: datetime


class TaskList(BaseModel):
    tasks: list[TaskPublic]


_pending_reminder = (
    select(Reminder.remind_at)
    .where(Reminder.task_id == Task.id, Reminder.status == ReminderStatus.pending)
    .limit(1)
    .scalar_subquery()
    .label("remind_at")
)
COLUMNS = [
    Task.id, Task.title, Task.description, Task.completed, Task.completed_at, Task.due_at, Task.all_day,
    Task.priority, Task.tags, Task.repeat, Task.created_at, Task.updated_at,
]  # fmt: skip
PUBLIC = [*COLUMNS, _pending_reminder]
_ZONE = select(UserState.timezone).where(UserState.user_id == bindparam("user_id"))
_PRIORITY_RANK = case(
    {Priority.urgent.value: 3, Priority.high.value: 2, Priority.normal.value: 1}, value=Task.priority, else_=0
)


def user_zone(conn: Connection, user_id: str, known: str | None = None) -> ZoneInfo:
    """The user's zone: as the caller knows it (the worker reads it with the run), else as stored."""
    return taskfields.zone(known if known else conn.execute(_ZONE, {"user_id": user_id}).scalar())


def public(row: Any, tz: ZoneInfo) -> TaskPublic:
    task = TaskPublic.model_validate(row._mapping)
    for name in ("due_at", "completed_at", "remind_at", "created_at", "updated_at"):
        moment = getattr(task, name)
        if moment is not None:
            setattr(task, name, moment.astimezone(tz))
    return task


@dataclass
class Filters:
    status: Status = "all"
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool = False
    priority: Priority | None = None
    tag: str | None = None
    words: list[str] = field(default_factory=list)
    sort: Sort = "created"
    limit: int = LIST_LIMIT

    @classmethod
    def read(
        cls,
        tz: ZoneInfo,
        *,
        status: Status = "all",
        due_before: str | None = None,
        due_after: str | None = None,
        overdue: bool | None = None,
        priority: str | None = None,
        tag: str | None = None,
        query: str | None = None,
        sort: Sort = "created",
        limit: int = LIST_LIMIT,
    ) -> "Filters":
        """The filters as the tools and the API take them, read in the user's zone (a value given empty is
        an error; the tools drop empty values first, as models send them for "no filter")."""
        return cls(
            status=status,
            due_before=taskfields.day_start("due_before", due_before, tz) if due_before is not None else None,
            due_after=taskfields.day_start("due_after", due_after, tz) if due_after is not None else None,
            overdue=bool(overdue),
            priority=taskfields.priority(priority) if priority is not None else None,
            tag=taskfields.tags([tag])[0] if tag and tag.strip(" #") else None,
            words=taskfields.search_words(query or ""),
            sort=sort,
            limit=limit,
        )


def list_tasks(conn: Connection, *, user_id: str, tz: ZoneInfo, filters: Filters) -> TaskList:
    statement = select(*PUBLIC).where(Task.user_id == user_id)
    if filters.status != "all":
        statement = statement.where(Task.completed.is_(filters.status == "completed"))
    if filters.due_after is not None:
        statement = statement.where(col(Task.due_at) >= filters.due_after)
    if filters.due_before is not None:
        statement = statement.where(col(Task.due_at) < filters.due_before)
    if filters.overdue:
        statement = statement.where(Task.completed.is_(False), col(Task.due_at) < func.now())
    if filters.priority is not None:
        statement = statement.where(Task.priority == filters.priority.value)
    if filters.tag:
        statement = statement.where(col(Task.tags).contains([filters.tag]))
    if filters.words:
        # Every word, as a prefix ("dent" finds "dentist"), stemmed like the index.
        query = " & ".join(f"{word}:*" for word in filters.words)
        statement = statement.where(Task.search.op("@@")(func.to_tsquery(SEARCH_CONFIG, query)))
    order = {
        "created": [Task.id],
        "due": [nulls_last(col(Task.due_at).asc()), Task.id],
        "priority": [_PRIORITY_RANK.desc(), nulls_last(col(Task.due_at).asc()), Task.id],
    }[filters.sort]
    rows = conn.execute(statement.order_by(*order).limit(filters.limit)).all()
    return TaskList(tasks=[public(row, tz) for row in rows])
