"""The task operations, one statement each on the `Task` table, on a connection inside the caller's
transaction (`mcp_tools.ledger.apply`, which commits). They are synchronous: they run in SQLAlchemy's
greenlet with the ledger row that records them. Every statement is scoped by `user_id`; another user's
task is simply not found."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, case, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from common.models import Task

Status = Literal["all", "pending", "completed"]


class TaskNotFound(Exception):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"Task {task_id} not found")


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime


class TaskList(BaseModel):
    tasks: list[TaskPublic]


PUBLIC = [getattr(Task, name) for name in TaskPublic.model_fields]
_owned = (Task.user_id == bindparam("p_user_id"), Task.id == bindparam("p_task_id"))

_ADD = (
    insert(Task)
    .values(
        user_id=bindparam("p_user_id"),
        title=bindparam("p_title"),
        description=bindparam("p_description"),
        completed=False,
        created_at=func.now(),
        updated_at=func.now(),
    )
    .returning(*PUBLIC)
)
_LIST = {
    status: select(*PUBLIC)
    .where(
        Task.user_id == bindparam("p_user_id"), *([] if status == "all" else [Task.completed == completed])
    )
    .order_by(Task.id)
    for status, completed in (("all", None), ("pending", False), ("completed", True))
}
# Completing a completed task changes nothing, not even its timestamp.
_COMPLETE = (
    update(Task)
    .where(*_owned)
    .values(completed=True, updated_at=case((Task.completed, Task.updated_at), else_=func.now()))
    .returning(*PUBLIC)
)
_DELETE = delete(Task).where(*_owned).returning(*PUBLIC)
# A missing title or description (None) keeps it; an empty description clears it.
_UPDATE = (
    update(Task)
    .where(*_owned)
    .values(
        title=func.coalesce(bindparam("p_title", type_=Task.title.type), Task.title),
        description=case(
            (bindparam("p_description", type_=Task.description.type).is_(None), Task.description),
            else_=func.nullif(bindparam("p_description"), ""),
        ),
        updated_at=func.now(),
    )
    .returning(*PUBLIC)
)


def _one(conn: Connection, statement: object, params: dict[str, object], task_id: int) -> TaskPublic:
    row = (conn.execute(statement, params)).first()  # type: ignore[call-overload]
    if row is None:
        raise TaskNotFound(task_id)
    return TaskPublic.model_validate(row._mapping)


def add_task(conn: Connection, *, user_id: str, title: str, description: str | None) -> TaskPublic:
    params = {"p_user_id": user_id, "p_title": title, "p_description": description or None}
    return _one(conn, _ADD, params, 0)


def list_tasks(conn: Connection, *, user_id: str, status: Status) -> TaskList:
    rows = (conn.execute(_LIST[status], {"p_user_id": user_id})).all()
    return TaskList(tasks=[TaskPublic.model_validate(row._mapping) for row in rows])


def complete_task(conn: Connection, *, user_id: str, task_id: int) -> TaskPublic:
    return _one(conn, _COMPLETE, {"p_user_id": user_id, "p_task_id": task_id}, task_id)


def delete_task(conn: Connection, *, user_id: str, task_id: int) -> TaskPublic:
    return _one(conn, _DELETE, {"p_user_id": user_id, "p_task_id": task_id}, task_id)


def update_task(
    conn: Connection, *, user_id: str, task_id: int, title: str | None, description: str | None
) -> TaskPublic:
    params = {"p_user_id": user_id, "p_task_id": task_id, "p_title": title, "p_description": description}
    return _one(conn, _UPDATE, params, task_id)
