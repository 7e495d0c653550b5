"""Reply writing: short, friendly, naming the tasks involved."""

from typing import Any

HELP = (
    "I manage your todo list. Try: “add buy milk”, “what's pending?”, “I finished the report”, "
    "“rename buy milk to buy oat milk” or “delete task 3”."
)


def q(task: dict[str, Any]) -> str:
    return f"“{task['title']}”"


def done_line(name: str, result: dict[str, Any]) -> str:
    return {
        "add_task": f"Added {q(result)} (task {result['id']}).",
        "complete_task": f"Marked {q(result)} as done.",
        "delete_task": f"Deleted {q(result)}.",
        "update_task": f"Updated task {result['id']}: now {q(result)}"
        + (f" — {result['description']}." if result.get("description") else "."),
    }.get(name, "Done.")


def failed_line(name: str, error: str) -> str:
    verb = {
        "add_task": "add that task",
        "complete_task": "complete that task",
        "delete_task": "delete that task",
        "update_task": "update that task",
        "list_tasks": "list your tasks",
    }.get(name, "do that")
    return f"I couldn't {verb}: {error.rstrip('.')}."


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


def not_found(query: str) -> str:
    return f"I couldn't find a task matching “{query}”."


def ambiguous(candidates: list[dict[str, Any]]) -> str:
    names = ", ".join(f"{q(t)} (task {t['id']})" for t in candidates[:5])
    return f"Which one do you mean: {names}?"


def unclear_reference() -> str:
    return "Which task do you mean? You can name it or give its number."


def chat(message: str) -> str:
    low = message.lower()
    if any(w in low for w in ("thank", "that's all", "thats all", "bye")):
        return "You're welcome! Let me know whenever you need anything else."
    if any(low.startswith(w) for w in ("hi", "hello", "hey", "good morning", "good evening", "yo")):
        return "Hi! I can add, list, complete, update and delete your tasks. What would you like to do?"
    return (
        "I can help with your todo list — adding, listing, completing, updating or deleting tasks. "
        "What would you like to do?"
    )
