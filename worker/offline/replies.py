"""Reply writing: short, friendly, naming the tasks involved.

Replies never repeat the words a user used to name a task that was not found: only the user's own
tasks, as the tools returned them, are ever named.
"""

import re
from datetime import datetime
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


def describe(task: dict[str, Any], now: datetime, *, reminder: bool = True) -> str:
    """'urgent, due tomorrow at 5:00 PM, #errands': what a task carries besides its title."""
    parts = []
    if task.get("priority") and task["priority"] != "normal":
        parts.append("urgent" if task["priority"] == "urgent" else f"{task['priority']} priority")
    if task.get("due_at") and not task.get("completed"):
        parts.append(humanize.describe_due(task["due_at"], bool(task.get("all_day")), now))
    if task.get("repeat"):
        parts.append(f"repeats {humanize.describe_repeat(task['repeat'])}")
    if reminder and task.get("remind_at") and not task.get("completed"):
        parts.append(f"reminder {humanize.when(task['remind_at'], False, now)}")
    return ", ".join(parts) + "".join(f" #{t}" for t in task.get("tags") or [])


def with_details(task: dict[str, Any], now: datetime, *, reminder: bool = True) -> str:
    said = describe(task, now, reminder=reminder)
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
            said = with_details(task, now, reminder=False)
            lines.append(f"Added {q(task)} (task {task['id']}){said}{described}.{_reminding(task, now)}")
        elif name == "complete_task":
            lines.append(f"Marked {names(tasks)} as done. ✓")
            lines += [_next_line(t, now) for t in tasks if t.get("next")]
        elif name == "delete_task":
            lines.append(f"Deleted {names(tasks)}.")
        elif name == "list_reminders":
            lines.append(reminder_list(tasks[0].get("reminders", []), now))
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


def _reminding(task: dict[str, Any], now: datetime) -> str:
    if not task.get("remind_at"):
        return ""
    if task["remind_at"] == task.get("due_at"):
        return " I'll remind you then."
    return f" I'll remind you {humanize.when(task['remind_at'], False, now)}."


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
    if changed <= {"remind_at", "remind_before_minutes"} and task.get("remind_at"):
        return f"I'll remind you about {q(task)} {humanize.when(task['remind_at'], False, now)}."
    if changed == {"remind_at"}:
        return f"Cancelled the reminder for {q(task)}."
    if changed <= {"repeat", "due_at"} and "repeat" in changed:
        rule = humanize.describe_repeat(task.get("repeat"))
        if not rule:
            return f"{q(task)} no longer repeats."
        due = humanize.describe_due(task.get("due_at"), bool(task.get("all_day")), now)
        return f"{q(task)} now repeats {rule}" + (f" (next {due})." if due else ".")
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
    r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|june|july|august|"
    r"september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b"
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
    if filters.get("repeating"):
        before += "repeating "
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
    return f"{q(task)} (task {task['id']}) is {state}{with_details(task, now)}.{described}"


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


def reminder_list(reminders: list[dict[str, Any]], now: datetime) -> str:
    if not reminders:
        return "You have no reminders set."
    lines = [
        f"{i}. {r['title']} — {humanize.when(r['remind_at'], False, now)} (task {r['task_id']})"
        for i, r in enumerate(reminders, 1)
    ]
    noun = "reminder" if len(reminders) == 1 else "reminders"
    return f"You have {len(reminders)} {noun}:\n" + "\n".join(lines)
