"""Replies that change nothing: answers to questions about tasks, offers that wait for a yes, hypotheticals,
and questions back (which date? what time?). Like every reply, they name only the user's own tasks."""

from datetime import date, datetime
from typing import Any

from worker import humanize
from worker.offline.replies import ASK_DATE, OFFER, details, names, q, with_details


def _some(tasks: list[dict[str, Any]], limit: int = 8) -> str:
    if len(tasks) <= limit:
        return names(tasks)
    return ", ".join(q(t) for t in tasks[:limit]) + f" and {len(tasks) - limit} more"


def _state(task: dict[str, Any]) -> str:
    return "done ✓" if task.get("completed") else "not done yet"


def bulk_offer(kind: str, tasks: list[dict[str, Any]], *, everything: bool, status: str, offer: bool) -> str:
    """'That would delete all 7 of your tasks: … Shall I go ahead?'"""
    n = len(tasks)
    noun = "task" if n == 1 else "tasks"
    if kind == "delete_all":
        which = {"completed": "completed ", "pending": "pending "}.get(status, "")
        whole = f"all {n} of your {which}{noun}" if n > 1 else f"your only {which}task"
        what = f"delete {whole if everything else f'{n} {noun}'}"
    else:
        whole = f"all {n} of your pending {noun}" if n > 1 else "your only pending task"
        what = f"mark {whole if everything else f'{n} {noun}'} as done"
    end = f" {OFFER} go ahead?" if offer else " Nothing was changed."
    return f"That would {what}: {_some(tasks)}.{end}"


def declined(kind: str | None) -> str:
    return {
        "add": "OK, I won't add it — nothing was changed.",
        "complete": "OK, I'll leave it open — nothing was changed.",
        "complete_all": "OK, I'll leave them open — nothing was changed.",
        "delete": "OK, I won't delete it — nothing was changed.",
        "delete_all": "OK, I won't delete anything — nothing was changed.",
        "update": "OK, I won't change it — nothing was changed.",
        "reschedule": "OK, I won't change it — nothing was changed.",
    }.get(kind or "", "OK, I'll leave your tasks as they are.")


def no_such_task() -> str:
    return "I don't see a task like that on your list. Nothing was changed."


def status(kind: str, tasks: list[dict[str, Any]], now: datetime) -> str:
    """The answer to a question about tasks: "did I call mom?", "is the report still on my list?"."""
    if len(tasks) > 1:
        lines = [
            f"{i}. {t['title']} — {_state(t)}{with_details(t, now)} (task {t['id']})"
            for i, t in enumerate(tasks, 1)
        ]
        return f"You have {len(tasks)} tasks like that:\n" + "\n".join(lines)
    task = tasks[0]
    named = f"{q(task)} (task {task['id']})"
    if kind in ("complete", "reopen"):
        if task.get("completed"):
            return f"Yes — {named} is done. ✓"
        return f"Not yet — {named} is still open{with_details(task, now)}."
    if kind == "add":
        return f"Yes — you have {named} on your list, {_state(task)}{with_details(task, now)}."
    if kind == "delete":
        return f"{named} is still on your list, {_state(task)}{with_details(task, now)}."
    return details(task, task["id"], now)


def offer(intent_kind: str, task: dict[str, Any], *, title: str | None = None) -> str:
    if intent_kind == "complete":
        return "" if task.get("completed") else f"{OFFER} mark it as done?"
    if intent_kind == "delete":
        return f"{OFFER} delete it?"
    if intent_kind == "update" and title:
        return f"{OFFER} rename it to “{title}”?"
    return ""


def offer_add(title: str) -> str:
    return f"There's no task like that on your list yet. {OFFER} add “{title}”?"


def hypothetical(kind: str, tasks: list[dict[str, Any]]) -> str:
    if not tasks:  # in general
        return {
            "delete": "Deleting a task removes it from your list for good — I can't restore it, though I can "
            "add it again. Nothing was changed.",
            "complete": "Marking a task as done keeps it on your list as completed; it leaves your pending "
            "tasks. Nothing was changed.",
        }.get(kind, "Nothing was changed — tell me what you'd like me to do.")
    if kind == "delete":
        what = f"If you deleted {names(tasks)}, {'it' if len(tasks) == 1 else 'they'} would be gone for good"
        return what + " — I can't restore deleted tasks, though I can add them again. Nothing was changed."
    if kind == "complete":
        return (
            f"If you marked {names(tasks)} as done, {'it' if len(tasks) == 1 else 'they'} would stay on your "
            "list as completed and leave your pending tasks. Nothing was changed."
        )
    return f"That would change {names(tasks)}. Nothing was changed."


def would_add(title: str, existing: list[dict[str, Any]]) -> str:
    also = f" You already have {names(existing)}." if existing else ""
    return f"I'd add “{title}” as a new task.{also} Nothing was changed."


def ask_date(readings: list[date], now: datetime) -> str:
    said = [f"{d:%A}, {d:%B} {d.day}" + (f", {d.year}" if d.year != now.year else "") for d in readings]
    return f"{ASK_DATE}{' or '.join(said)}? Nothing was changed yet."


def no_due_to_move(task: dict[str, Any] | None) -> str:
    which = q(task) if task else "That task"
    return f"{which} has no due date yet, so there's nothing to move — when is it due? Nothing was changed."


def reminder_passed(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "That time has already passed, so I didn't set a reminder. Nothing was changed."
    said = humanize.clock(at)
    return f"{said} today has already passed. {OFFER} remind you tomorrow at {said} instead?"


def no_reminder(task: dict[str, Any]) -> str:
    return f"{q(task) if task.get('title') else 'That task'} has no reminder set, so nothing was changed."


def no_repeat(task: dict[str, Any]) -> str:
    return f"{q(task) if task.get('title') else 'That task'} doesn't repeat, so nothing was changed."


def no_due_for_reminder(task: dict[str, Any]) -> str:
    which = q(task) if task.get("title") else "That task"
    return (
        f"{which} has no due date yet, so I can't remind you before it — when is it due? Nothing was changed."
    )


def no_due_time(task: dict[str, Any], now: datetime) -> str:
    day = humanize.when(task["due_at"], True, now)
    return f"{q(task)} is due {day} with no time — at what time should I remind you? Nothing was changed."
