"""The five task operations over an open session. They flush, never commit: the caller owns the
transaction. Every query is scoped by `user_id`; another user's task is simply not found."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.models import Task, utcnow

Status = Literal["all", "pending", "completed"]


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


def public(task: Task) -> TaskPublic:
    return TaskPublic.model_validate(task, from_attributes=True)


async def _get_for_update(session: AsyncSession, *, user_id: str, task_id: int) -> Task:
    stmt = select(Task).where(Task.user_id == user_id, Task.id == task_id).with_for_update()
    task = (await session.exec(stmt)).first()
    if task is None:
        raise TaskNotFound(task_id)
    return task


async def add_task(session: AsyncSession, *, user_id: str, title: str, description: str | None) -> TaskPublic:
    task = Task(user_id=user_id, title=title, description=description or None)
    session.add(task)
    await session.flush()
    return public(task)


async def list_tasks(session: AsyncSession, *, user_id: str, status: Status) -> TaskList:
    stmt = select(Task).where(Task.user_id == user_id)
    if status != "all":
        stmt = stmt.where(Task.completed == (status == "completed"))
    tasks = (await session.exec(stmt.order_by(col(Task.id)))).all()
    return TaskList(tasks=[public(t) for t in tasks])


async def complete_task(session: AsyncSession, *, user_id: str, task_id: int) -> TaskPublic:
    task = await _get_for_update(session, user_id=user_id, task_id=task_id)
    if not task.completed:
        task.completed = True
        task.updated_at = utcnow()
        await session.flush()
    return public(task)


async def delete_task(session: AsyncSession, *, user_id: str, task_id: int) -> TaskPublic:
    task = await _get_for_update(session, user_id=user_id, task_id=task_id)
    deleted = public(task)
    await session.delete(task)
    await session.flush()
    return deleted


async def update_task(
    session: AsyncSession, *, user_id: str, task_id: int, title: str | None, description: str | None
) -> TaskPublic:
    task = await _get_for_update(session, user_id=user_id, task_id=task_id)
    if title is not None:
        task.title = title
    if description is not None:
        task.description = description or None
    task.updated_at = utcnow()
    await session.flush()
    return public(task)
