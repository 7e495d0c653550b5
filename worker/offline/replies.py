"""Reply writing: short, friendly, naming the tasks involved.

Replies never repeat the words a user used to name a task that was not found: only the user's own
tasks, as the tools returned them, are ever named.
"""

import re
from typing import Any

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
CANNOT_DUE = "Sorry, I can't set or change due dates yet, so nothing was changed."
CANCELLED = "OK, I won't — your tasks are unchanged."
UNDO_HINT = "Nothing was changed. Say “undo” if you want me to take back the last change."


def q(task: dict[str, Any]) -> str:
    return f"“{task['title']}”"


def names(tasks: list[dict[str, Any]]) -> str:
    quoted = [q(t) for t in tasks]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def outcome(kind: str, done: list[tuple[str, dict[str, Any], Any]]) -> str:
    """One line for the calls an intent made: what changed, then what failed."""
    ok = [result for _, _, result in done if isinstance(result, dict)]
    lines = []
    if ok:
        name = done[0][0]
        if name == "add_task":
            lines.append(
                f"Added {names(ok)}."
                if len(ok) > 1
                else f"Added {q(ok[0])} (task {ok[0]['id']})"
                + (f" with the description “{ok[0]['description']}”." if ok[0].get("description") else ".")
            )
        elif name == "complete_task":
            lines.append(f"Marked {names(ok)} as done. ✓")
        elif name == "delete_task":
            lines.append(f"Deleted {names(ok)}.")
        elif name == "update_task":
            for task in ok:
                described = f" — description: “{task['description']}”" if task.get("description") else ""
                lines.append(f"Updated task {task['id']}: now {q(task)}{described}.")
    lines += [
        failed_line(name, args, str(result)) for name, args, result in done if not isinstance(result, dict)
    ]
    return "\n".join(lines)


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


def task_list(tasks: list[dict[str, Any]], status: str) -> str:
    label = {"pending": "pending ", "completed": "completed "}.get(status, "")
    if not tasks:
        return {
            "pending": "Nothing pending — you're all caught up!",
            "completed": "You haven't completed any tasks yet.",
        }.get(status, "Your list is empty. Want me to add something?")
    lines = [
        f"{i}. {t['title']}" + (" ✓" if t["completed"] and status == "all" else "") + f" (task {t['id']})"
        for i, t in enumerate(tasks, 1)
    ]
    noun = "task" if len(tasks) == 1 else "tasks"
    return f"You have {len(tasks)} {label}{noun}:\n" + "\n".join(lines)


def details(task: dict[str, Any] | None, task_id: int) -> str:
    if task is None:
        return f"Sorry, I couldn't find task {task_id}: it was not found on your list."
    state = "done ✓" if task["completed"] else "not done yet"
    described = f" Description: {task['description']}." if task.get("description") else ""
    return f"{q(task)} (task {task['id']}) is {state}.{described}"


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


def status(kind: str, tasks: list[dict[str, Any]]) -> str:
    """The answer to a question about tasks: "did I call mom?", "is the report still on my list?"."""
    if len(tasks) > 1:
        lines = [f"{i}. {t['title']} — {_state(t)} (task {t['id']})" for i, t in enumerate(tasks, 1)]
        return f"You have {len(tasks)} tasks like that:\n" + "\n".join(lines)
    task = tasks[0]
    named = f"{q(task)} (task {task['id']})"
    if kind in ("complete", "reopen"):
        return f"Yes — {named} is done. ✓" if task.get("completed") else f"Not yet — {named} is still open."
    if kind == "add":
        return f"Yes — you have {named} on your list, {_state(task)}."
    if kind == "delete":
        return f"{named} is still on your list, {_state(task)}."
    return details(task, task["id"])


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
