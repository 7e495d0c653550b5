"""The five task operations, one statement each, on a connection inside the caller's transaction (the
caller commits). Every statement is scoped by `user_id`; another user's task is simply not found."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from common.pg import Connection

Status = Literal["all", "pending", "completed"]
_COLUMNS = "id, title, description, completed, created_at, updated_at"


class TaskNotFound(Exception):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"Task {task_id} not found")


class TaskPublic(BaseModel):
    id: int
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime


class TaskList(BaseModel):
    tasks: list[TaskPublic]


async def _one(conn: Connection, query: str, params: dict[str, Any], task_id: int) -> TaskPublic:
    row = await (await conn.execute(query, params)).fetchone()
    if row is None:
        raise TaskNotFound(task_id)
    return TaskPublic(**row)


async def add_task(conn: Connection, *, user_id: str, title: str, description: str | None) -> TaskPublic:
    query = f"""
        INSERT INTO task (user_id, title, description, completed, created_at, updated_at)
        VALUES (%(user_id)s, %(title)s, %(description)s, false, now(), now())
        RETURNING {_COLUMNS}"""
    params = {"user_id": user_id, "title": title, "description": description or None}
    return await _one(conn, query, params, 0)


async def list_tasks(conn: Connection, *, user_id: str, status: Status) -> TaskList:
    completed = None if status == "all" else status == "completed"
    query = f"""
        SELECT {_COLUMNS} FROM task
        WHERE user_id = %(user_id)s AND (%(completed)s::boolean IS NULL OR completed = %(completed)s)
        ORDER BY id"""
    rows = await (await conn.execute(query, {"user_id": user_id, "completed": completed})).fetchall()
    return TaskList(tasks=[TaskPublic(**row) for row in rows])


async def complete_task(conn: Connection, *, user_id: str, task_id: int) -> TaskPublic:
    # Completing a completed task changes nothing, not even its timestamp.
    query = f"""
        UPDATE task SET completed = true, updated_at = CASE WHEN completed THEN updated_at ELSE now() END
        WHERE user_id = %(user_id)s AND id = %(task_id)s
        RETURNING {_COLUMNS}"""
    return await _one(conn, query, {"user_id": user_id, "task_id": task_id}, task_id)


async def delete_task(conn: Connection, *, user_id: str, task_id: int) -> TaskPublic:
    query = f"DELETE FROM task WHERE user_id = %(user_id)s AND id = %(task_id)s RETURNING {_COLUMNS}"
    return await _one(conn, query, {"user_id": user_id, "task_id": task_id}, task_id)


async def update_task(
    conn: Connection, *, user_id: str, task_id: int, title: str | None, description: str | None
) -> TaskPublic:
    # An empty description clears it; a missing one (None) keeps it.
    query = f"""
        UPDATE task SET title = coalesce(%(title)s, title),
               description = CASE WHEN %(description)s::text IS NULL THEN description
                                  ELSE nullif(%(description)s, '') END,
               updated_at = now()
        WHERE user_id = %(user_id)s AND id = %(task_id)s
        RETURNING {_COLUMNS}"""
    params = {"user_id": user_id, "task_id": task_id, "title": title, "description": description}
    return await _one(conn, query, params, task_id)
