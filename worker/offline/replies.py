"""Reply writing: short, friendly, naming the tasks involved.

Replies never repeat the words a user used to name a task that was not found: only the user's own
tasks, as the tools returned them, are ever named.
"""

import re
from datetime import date, datetime
from typing import Any

from worker import humanize

HELP = (
    "I manage your todo list. Try: “add buy milk”, “what's pending?”, “I finished the report”, "
    "“rename buy milk to buy oat milk”, “delete task 3” or “clear completed tasks”."
)
ASKING = ("Which ", "Do you mean ")  # how a question back starts: the next message may answer it
OFFER = "Shall I"  # an offer to make a change: a yes in the next message makes it
NOT_FOUND_MARK = "couldn't find"
ASK_TITLE = "Sure — what should the task say? For example: “add buy milk”."
ASK_CHANGE = "What should I change it to? Give me a new title or a description."
CANNOT_REOPEN = (
    "Sorry, I can't mark a task as not done — nothing was changed. "
    "I can add it again as a new task if you like."
)
CANNOT_UNDO = "Sorry, I can only undo adding or deleting a task, so nothing was changed."
ASK_DATE = "Is that "  # a question back about an ambiguous date
UNKNOWN_DATE = (
    "Sorry, I couldn't read that date — try “tomorrow at 5pm”, “Friday” or “Dec 5”. Nothing was changed."
)
CANCELLED = "OK, I won't — your tasks are unchanged."
UNDO_HINT = "Nothing was changed. Say “undo” if you want me to take back the last change."


def q(task: dict[str, Any]) -> str:
    return f"“{task['title']}”"


def names(tasks: list[dict[str, Any]]) -> str:
    quoted = [q(t) for t in tasks]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def describe(task: dict[str, Any], now: datetime) -> str:
    """'urgent, due tomorrow at 5:00 PM, #errands': what a task carries besides its title."""
    parts = []
    if task.get("priority") and task["priority"] != "normal":
        parts.append("urgent" if task["priority"] == "urgent" else f"{task['priority']} priority")
    if task.get("due_at") and not task.get("completed"):
        parts.append(humanize.describe_due(task["due_at"], bool(task.get("all_day")), now))
    return ", ".join(parts) + "".join(f" #{t}" for t in task.get("tags") or [])


def _with(task: dict[str, Any], now: datetime) -> str:
    said = describe(task, now)
    return f", {said}" if said and not said.startswith(" ") else said


def outcome(kind: str, done: list[tuple[str, dict[str, Any], Any]], now: datetime) -> str:
    """One line for the calls an intent made: what changed, then what failed."""
    ok = [(args, result) for _, args, result in done if isinstance(result, dict)]
    lines = []
    if ok:
        name = done[0][0]
        tasks = [result for _, result in ok]
        if name == "add_task" and len(tasks) > 1:
            lines.append("Added " + _joined([f"{q(t)}{_in_brackets(t, now)}" for t in tasks]) + ".")
        elif name == "add_task":
            task = tasks[0]
            described = f" with the description “{task['description']}”" if task.get("description") else ""
            lines.append(f"Added {q(task)} (task {task['id']}){_with(task, now)}{described}.")
        elif name == "complete_task":
            lines.append(f"Marked {names(tasks)} as done. ✓")
            lines += [_next_line(t, now) for t in tasks if t.get("next")]
        elif name == "delete_task":
            lines.append(f"Deleted {names(tasks)}.")
        elif name == "update_task":
            lines += [_updated(args, task, now) for args, task in ok]
    lines += [
        failed_line(name, args, str(result)) for name, args, result in done if not isinstance(result, dict)
    ]
    return "\n".join(lines)


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _in_brackets(task: dict[str, Any], now: datetime) -> str:
    said = describe(task, now).strip()
    return f" ({said})" if said else ""


def _next_line(task: dict[str, Any], now: datetime) -> str:
    following = task["next"]
    due = humanize.describe_due(following.get("due_at"), bool(following.get("all_day")), now)
    return f"It repeats: the next one is {due}." if due else "It repeats: the next one is on your list."


def _updated(args: dict[str, Any], task: dict[str, Any], now: datetime) -> str:
    changed = set(args) - {"task_id"}
    if changed == {"due_at"}:
        if args["due_at"] == "":
            return f"Removed the due date from {q(task)}."
        due = humanize.describe_due(task.get("due_at"), bool(task.get("all_day")), now)
        return f"{q(task)} is now {due}." if due else f"Updated {q(task)}."
    if changed == {"priority"}:
        return f"{q(task)} is now {task['priority']} priority."
    if changed == {"tags"}:
        tags = " ".join(f"#{t}" for t in task.get("tags") or [])
        return f"{q(task)} is now tagged {tags}." if tags else f"Removed the tags from {q(task)}."
    described = f" — description: “{task['description']}”" if task.get("description") else ""
    extra = describe(task, now).strip()
    return f"Updated task {task['id']}: now {q(task)}{described}" + (f" ({extra})." if extra else ".")


def failed_line(name: str, args: dict[str, Any], error: str) -> str:
    if "not found" in error.lower():
        which = f"task {args['task_id']}" if "task_id" in args else "that task"
        return f"Sorry, I couldn't find {which}: it was not found on your list, so nothing was changed."
    verb = {
        "add_task": "add that task",
        "complete_task": "complete that task",
        "delete_task": "delete that task",
        "update_task": "update that task",
        "list_tasks": "list your tasks",
    }.get(name, "do that")
    error = re.sub(r"^(?:Error[^:]*:\s*)+", "", error).strip().rstrip(".")
    return f"I couldn't {verb}: {error}."


_NAMES = re.compile(
    r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|june|july|august|september|"
    r"october|november|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b"
)


def _said(phrase: str) -> str:
    """A date phrase as the user said it, names capitalised: 'next friday' -> 'next Friday'."""
    return _NAMES.sub(lambda m: m.group(0).capitalize(), phrase.strip())


def _scope(filters: dict[str, Any]) -> tuple[str, str]:
    """Words before and after "tasks" for a listing's filters: ('urgent ', ' due this week')."""
    before, after = "", ""
    if "priority" in filters:
        before += f"{filters['priority']}-priority " if filters["priority"] in ("high", "low") else "urgent "
    if filters.get("overdue"):
        before += "overdue "
    if "period" in filters:
        said = _said(re.sub(r"^(?:(?:due|by|for|on)\s+)+", "", filters["period"].strip()))
        after += (" for " if filters.get("loose") else " due ") + said
    if "before" in filters:
        after += " due before " + _said(filters["before"])
    if "until" in filters:
        after += " due by " + _said(filters["until"])
    if "tag" in filters:
        after += f" tagged #{filters['tag']}"
    if "topic" in filters:
        after += f" for {filters['topic']}"
    return before, after


def task_list(tasks: list[dict[str, Any]], intent: Any, now: datetime) -> str:
    status, filters = intent.status, intent.filters
    before, after = _scope(filters)
    label = {"pending": "" if before or after else "pending ", "completed": "completed "}.get(status, "")
    if not tasks:
        if filters.get("overdue"):
            return "Nothing is overdue — nice work!"
        if before or after:
            return f"You have no {label}{before}tasks{after}."
        return {
            "pending": "Nothing pending — you're all caught up!",
            "completed": "You haven't completed any tasks yet.",
        }.get(status, "Your list is empty. Want me to add something?")
    lines = []
    for i, t in enumerate(tasks, 1):
        done = " ✓" if t["completed"] and status == "all" else ""
        said = describe(t, now)
        said = f" —{'' if said.startswith(' ') else ' '}{said}" if said else ""
        lines.append(f"{i}. {t['title']}{done}{said} (task {t['id']})")
    noun = "task" if len(tasks) == 1 else "tasks"
    order = {"due": ", by due date", "priority": ", most urgent first"}.get(filters.get("sort", ""), "")
    return f"You have {len(tasks)} {label}{before}{noun}{after}{order}:\n" + "\n".join(lines)


def details(task: dict[str, Any] | None, task_id: int, now: datetime) -> str:
    if task is None:
        return f"Sorry, I couldn't find task {task_id}: it was not found on your list."
    state = "done ✓" if task["completed"] else "not done yet"
    described = f" Description: {task['description']}." if task.get("description") else ""
    return f"{q(task)} (task {task['id']}) is {state}{_with(task, now)}.{described}"


def not_found() -> str:
    return (
        f"Sorry, I {NOT_FOUND_MARK} a task like that — it was not found on your list, "
        "so nothing was changed. Say “show my tasks” to see them."
    )


def ambiguous(candidates: list[dict[str, Any]]) -> str:
    listed = [f"{q(t)} (task {t['id']})" for t in candidates[:5]]
    if len(listed) == 1:  # a loose match: better to ask than to guess
        return f"Do you mean {listed[0]}? Nothing was changed yet."
    options = ", ".join(listed[:-1]) + " or " + listed[-1]
    return f"Which one do you mean: {options}? Nothing was changed yet."


def asks_which(answer: str) -> bool:
    return answer.startswith(ASKING)


def offers(answer: str) -> bool:
    """The answer offered a change and waits for a yes."""
    return OFFER in answer and answer.rstrip().endswith("?")


def parse_candidates(question: str) -> list[dict[str, Any]]:
    """The tasks a question back offered, in order."""
    return [
        {"id": int(i), "title": title, "completed": False}
        for title, i in re.findall(r"“(.+?)” \(task (\d+)\)", question)
    ]


def unclear_reference() -> str:
    return "Which task do you mean? You can name it or give its number."


def nothing_to_complete(has_tasks: bool) -> str:
    return "All those tasks are already done. 🎉" if has_tasks else "You have no tasks to complete."


def nothing_to_delete(status: str) -> str:
    return {
        "completed": "There are no completed tasks to delete.",
        "pending": "There are no pending tasks to delete.",
    }.get(status, "There's nothing to delete — your list is already empty.")


SMALL_TALK = re.compile(
    r"^\W*(?:hi|hello|hey|thanks?|thank you|ok|okay|cool|great|nice|no|nope|never ?mind|cancel|nothing|"
    r"forget it)\W*$",
    re.I,
)
_OUT_OF_SCOPE = {
    "weather": "I can't check the weather",
    "joke": "I'm not much of a comedian",
    "time": "I can't tell the time",
    "news": "I can't follow the news",
    "poem": "I don't write poems",
    "flight": "I can't book things",
    "book me": "I can't book things",
    "order me": "I can't order things",
}


def chat(message: str) -> str:
    low = message.lower()
    offer = "I can add, list, complete, update and delete your tasks."
    if re.search(r"\b(?:thanks?|thank you|thx|ty|cheers|that'?s all|bye|goodbye|see you)\b", low):
        return "You're welcome! Let me know whenever you need anything else."
    if re.search(r"\bhow are you\b", low):
        return f"I'm doing great, thanks for asking! {offer} What would you like to do?"
    if re.search(r"\bwho are you\b|\bwhat are you\b", low):
        return f"I'm your todo assistant. {offer}"
    for key, lead in _OUT_OF_SCOPE.items():
        if re.search(rf"\b{key}\b", low):
            return f"{lead}, sorry — I only help with your todo list. {offer}"
    if re.match(r"^\W*(?:hi|hello|hey|yo|hiya|howdy|good (?:morning|afternoon|evening))\b", low):
        return f"Hi! {offer} What would you like to do?"
    if re.match(r"^\W*(?:ok|okay|k|cool|great|nice|awesome|perfect|sure|yes|no|yep|nope)\W*$", low):
        return "Alright! Anything else for your list?"
    return f"I'm here for your todo list: {offer} What would you like to do?"


# --------------------------------------------------------------------------------------------
# Questions, offers and hypotheticals: nothing is changed by any of these


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
            f"{i}. {t['title']} — {_state(t)}{_with(t, now)} (task {t['id']})" for i, t in enumerate(tasks, 1)
        ]
        return f"You have {len(tasks)} tasks like that:\n" + "\n".join(lines)
    task = tasks[0]
    named = f"{q(task)} (task {task['id']})"
    if kind in ("complete", "reopen"):
        if task.get("completed"):
            return f"Yes — {named} is done. ✓"
        return f"Not yet — {named} is still open{_with(task, now)}."
    if kind == "add":
        return f"Yes — you have {named} on your list, {_state(task)}{_with(task, now)}."
    if kind == "delete":
        return f"{named} is still on your list, {_state(task)}{_with(task, now)}."
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
