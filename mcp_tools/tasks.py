"""The task tools' changes on the `Task` and `Reminder` tables (the listing is `common.tasks`), on a
connection inside the caller's transaction (`mcp_tools.ledger.apply`, which commits). They are
synchronous: they run in SQLAlchemy's greenlet with the ledger row that records them. Every statement is
scoped by `user_id`; another user's task is simply not found. Times are stored in UTC and returned in
the user's time zone. Every change is noted as an event of the user's feed, and every new reminder due
soon for its queue message (`common.userevents`): both are written or sent when the transaction ends."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlmodel import col

from common import taskfields, userevents
from common.models import Priority, Reminder, ReminderStatus, Task
from common.taskfields import InvalidValue, Moment
from common.tasks import COLUMNS, PUBLIC, TaskPublic, public

MAX_ACTIVE_REMINDERS = 500


class TaskNotFound(Exception):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"Task {task_id} not found")


class CompletedTask(TaskPublic):
    next: TaskPublic | None = None  # the next occurrence of a repeating task, created by completing it


class ReminderPublic(BaseModel):
    task_id: int
    title: str
    remind_at: datetime
    due_at: datetime | None
    all_day: bool
    repeat: str | None


class ReminderList(BaseModel):
    reminders: list[ReminderPublic]


# A new task's columns that add_task may set, and their values when it does not.
_ADDED: dict[str, Any] = {
    "title": None,
    "description": None,
    "due_at": None,
    "all_day": False,
    "priority": Priority.normal.value,
    "tags": [],
    "repeat": None,
}


@dataclass
class Edit:
    """What add_task or update_task sets; None leaves a field as it is (or unset, for a new task)."""

    title: str | None = None
    description: str | None = None  # "" clears it
    due: Moment | None = None
    clear_due: bool = False
    priority: Priority | None = None
    tags: list[str] | None = None
    repeat: str | None = None
    clear_repeat: bool = False
    remind_at: datetime | None = None
    remind_before_minutes: int | None = None
    clear_reminder: bool = False

    def task_columns(self) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if self.title is not None:
            changes["title"] = self.title
        if self.description is not None:
            changes["description"] = self.description or None
        if self.due is not None:
            changes["due_at"], changes["all_day"] = self.due.at, self.due.all_day
        elif self.clear_due:
            changes["due_at"], changes["all_day"] = None, False
        if self.priority is not None:
            changes["priority"] = self.priority.value
        if self.tags is not None:
            changes["tags"] = self.tags
        if self.repeat is not None:
            changes["repeat"] = self.repeat
        elif self.clear_repeat:
            changes["repeat"] = None
        return changes


# A new task: every column bound, so that the statement is built and compiled once.
_ADD = (
    insert(Task)
    .values(
        {name: bindparam(f"p_{name}") for name in ("user_id", *_ADDED)}
        | {"completed": False, "created_at": func.now(), "updated_at": func.now()}
    )
    .returning(*COLUMNS)
)
_owned = (Task.user_id == bindparam("p_user_id"), Task.id == bindparam("p_task_id"))
_ACTIVE_REMINDERS = select(func.count()).where(
    Reminder.user_id == bindparam("user_id"), Reminder.status == ReminderStatus.pending
)
_CANCEL_REMINDERS = (
    update(Reminder)
    .where(Reminder.task_id == bindparam("p_task_id"), Reminder.status == ReminderStatus.pending)
    .values(status=ReminderStatus.cancelled)
    .returning(Reminder.remind_at, Reminder.before_due_minutes)
)
_CANCEL_RELATIVE = _CANCEL_REMINDERS.where(col(Reminder.before_due_minutes).is_not(None))
_ADD_REMINDER = (
    insert(Reminder).values(status=ReminderStatus.pending, created_at=func.now()).returning(Reminder.id)
)
# Completing: the row as it was (was it completed already?) and as it is now.
_before = select(Task.id, Task.completed.label("was_completed")).where(*_owned).with_for_update().subquery()
_COMPLETE = (
    update(Task)
    .where(Task.id == _before.c.id)
    .values(completed=True, completed_at=func.coalesce(Task.completed_at, func.now()), updated_at=func.now())
    .returning(*COLUMNS, _before.c.was_completed)
)
_DELETE = delete(Task).where(*_owned).returning(*PUBLIC)
_GET = select(*PUBLIC).where(*_owned)
_REMINDERS = (
    select(Reminder.task_id, Task.title, Reminder.remind_at, Task.due_at, Task.all_day, Task.repeat)
    .join_from(Reminder, Task, Task.id == Reminder.task_id)
    .where(Reminder.user_id == bindparam("user_id"), Reminder.status == ReminderStatus.pending)
    .order_by(Reminder.remind_at, Reminder.id)
)


def _one(conn: Connection, statement: Any, params: dict[str, Any], task_id: int) -> Any:
    row = conn.execute(statement, params).first()
    if row is None:
        raise TaskNotFound(task_id)
    return row


def _in_future(at: datetime) -> datetime:
    if at <= datetime.now(UTC):
        raise InvalidValue(f"Reminder time {at.isoformat()} is in the past; nothing was scheduled")
    return at


def _schedule(
    conn: Connection, *, user_id: str, task_id: int, at: datetime, before_due_minutes: int | None
) -> None:
    _in_future(at)
    if conn.execute(_ACTIVE_REMINDERS, {"user_id": user_id}).scalar_one() >= MAX_ACTIVE_REMINDERS:
        raise InvalidValue(f"You already have {MAX_ACTIVE_REMINDERS} reminders waiting; remove some first")
    soon = at <= datetime.now(UTC) + userevents.HORIZON
    reminder_id = conn.execute(
        _ADD_REMINDER,
        {
            "user_id": user_id,
            "task_id": task_id,
            "remind_at": at,
            "before_due_minutes": before_due_minutes,
            "enqueued": soon,
        },
    ).scalar_one()
    if soon:
        userevents.note_reminder(conn, reminder_id, at)


def _changed(conn: Connection, user_id: str, change: str, task: TaskPublic) -> None:
    """An event of the user's feed: the task as it is now (as it was, when deleted)."""
    data = {"change": change, "task": TaskPublic.model_validate(task).model_dump(mode="json")}
    userevents.note_event(conn, user_id, "task", data)


def _reminder(edit: Edit, due: Moment | None) -> tuple[datetime, int | None] | None:
    if edit.remind_before_minutes is not None:
        return taskfields.reminder_before(due, edit.remind_before_minutes), edit.remind_before_minutes
    if edit.remind_at is not None:
        return edit.remind_at, None
    return None


def add_task(conn: Connection, *, user_id: str, tz: ZoneInfo, edit: Edit) -> TaskPublic:
    columns = edit.task_columns()
    if edit.repeat and edit.due is None:
        columns["due_at"], columns["all_day"] = _first(edit.repeat, tz)
    reminder = _reminder(edit, _due(columns))
    if reminder is not None:
        _in_future(reminder[0])  # before the insert: completing a repeating task retries without it
    values = _ADDED | columns
    row = conn.execute(_ADD, {"p_user_id": user_id} | {f"p_{name}": values[name] for name in _ADDED}).one()
    if reminder is not None:
        _schedule(conn, user_id=user_id, task_id=row.id, at=reminder[0], before_due_minutes=reminder[1])
        task = public(_one(conn, _GET, {"p_user_id": user_id, "p_task_id": row.id}, row.id), tz)
    else:
        task = public(row, tz)
    _changed(conn, user_id, "added", task)
    return task


def update_task(conn: Connection, *, user_id: str, tz: ZoneInfo, task_id: int, edit: Edit) -> TaskPublic:
    columns = edit.task_columns()
    if edit.repeat and edit.due is None:  # a task that starts repeating keeps its due date, or gets one
        current = _one(conn, _GET, {"p_user_id": user_id, "p_task_id": task_id}, task_id)
        if current.due_at is None:
            columns["due_at"], columns["all_day"] = _first(edit.repeat, tz)
    statement = update(Task).where(*_owned).values(updated_at=func.now(), **columns).returning(*COLUMNS)
    row = _one(conn, statement, {"p_user_id": user_id, "p_task_id": task_id}, task_id)
    due = Moment(row.due_at, row.all_day) if row.due_at else None
    reminder = _reminder(edit, due)
    if reminder is not None or edit.clear_reminder:
        conn.execute(_CANCEL_REMINDERS, {"p_task_id": task_id})
    elif "due_at" in columns:  # a reminder "an hour before it's due" follows the due date
        for old in conn.execute(_CANCEL_RELATIVE, {"p_task_id": task_id}).all():
            if due is not None and not due.all_day:
                moved = due.at - timedelta(minutes=old.before_due_minutes)
                reminder = (moved, old.before_due_minutes) if moved > datetime.now(UTC) else None
    if reminder is not None:
        _schedule(conn, user_id=user_id, task_id=task_id, at=reminder[0], before_due_minutes=reminder[1])
    task = public(_one(conn, _GET, {"p_user_id": user_id, "p_task_id": task_id}, task_id), tz)
    _changed(conn, user_id, "updated", task)
    return task


def complete_task(conn: Connection, *, user_id: str, tz: ZoneInfo, task_id: int) -> CompletedTask:
    row = _one(conn, _COMPLETE, {"p_user_id": user_id, "p_task_id": task_id}, task_id)
    cancelled = conn.execute(_CANCEL_REMINDERS, {"p_task_id": task_id}).all()
    task = CompletedTask.model_validate({**public(row, tz).model_dump(), "remind_at": None})
    _changed(conn, user_id, "completed", task)
    if row.was_completed or not row.repeat or row.due_at is None:
        return task
    # The next occurrence, in the same transaction as the completion: never two, never none.
    following = taskfields.next_occurrence(row.repeat, Moment(row.due_at, row.all_day), tz)
    if following is None:
        return task
    edit = Edit(
        title=row.title,
        description=row.description or "",
        due=following,
        priority=Priority(row.priority),
        tags=list(row.tags),
        repeat=row.repeat,
    )
    for old in cancelled:  # the reminder comes back, as long before the due date as it was
        before = old.before_due_minutes
        if before is None and not row.all_day and not following.all_day:
            before = int((row.due_at - old.remind_at).total_seconds() // 60)
        if before is not None and before >= 0 and not following.all_day:
            edit.remind_before_minutes = before
    try:
        task.next = add_task(conn, user_id=user_id, tz=tz, edit=edit)
    except InvalidValue:  # its reminder would already be past: the next task comes without it
        edit.remind_before_minutes = None
        task.next = add_task(conn, user_id=user_id, tz=tz, edit=edit)
    return task


def delete_task(conn: Connection, *, user_id: str, tz: ZoneInfo, task_id: int) -> TaskPublic:
    task = public(_one(conn, _DELETE, {"p_user_id": user_id, "p_task_id": task_id}, task_id), tz)
    _changed(conn, user_id, "deleted", task)
    return task


def list_reminders(conn: Connection, *, user_id: str, tz: ZoneInfo) -> ReminderList:
    reminders = []
    for row in conn.execute(_REMINDERS, {"user_id": user_id}).all():
        item = ReminderPublic.model_validate(row._mapping)
        item.remind_at = item.remind_at.astimezone(tz)
        item.due_at = item.due_at.astimezone(tz) if item.due_at else None
        reminders.append(item)
    return ReminderList(reminders=reminders)


def _first(rule: str, tz: ZoneInfo) -> tuple[datetime, bool]:
    first = taskfields.first_occurrence(rule, tz, datetime.now(UTC))
    return first.at, first.all_day


def _due(columns: dict[str, Any]) -> Moment | None:
    return Moment(columns["due_at"], columns["all_day"]) if columns.get("due_at") else None
