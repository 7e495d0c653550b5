"""Planning: the tool calls an intent needs, or the answer it gets without any.

Nothing changes unless the user plainly asked for it and named the tasks clearly: a question, a hedge,
a hypothetical or a refusal is answered from the list; a loose match is asked back; a change to many
tasks at once is described and waits for a yes.
"""

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from worker.offline import answers, replies
from worker.offline.arguments import Question, add_arguments, due_at, new_tags, reminder_changes
from worker.offline.conversation import ConversationContext
from worker.offline.dialogue import ACTIONS, BULK
from worker.offline.intents import ASK, REFUSE, SUGGEST, SUPPOSE, Intent
from worker.offline.resolve import clear_matches, match, resolve
from worker.offline.scheduling import patched_title

ACTION_TOOL = {"complete": "complete_task", "delete": "delete_task"}
Task = dict[str, Any]


@dataclass
class Step:
    calls: list[tuple[str, dict[str, Any]]]
    note: str = ""


def needs_tasks(intent: Intent, context: ConversationContext) -> bool:
    if intent.mood == REFUSE or intent.kind in ("chat", "cancel", "help", "undo", "reminders"):
        return False
    if intent.kind == "remind" or (intent.kind == "add" and intent.remind):
        return True  # a reminder for a task that may be on the list already
    if intent.kind == "show":
        return True
    if intent.kind == "list":
        return "topic" in intent.filters or not intent.filters
    if intent.kind in BULK:
        return not (intent.ref.plural and context.group())
    if intent.kind == "add":
        return bool(intent.mood)  # a question about a task to add: is it there already?
    if intent.kind in (*ACTIONS, "reopen"):
        ref = intent.ref
        named = bool(ref.query) or ref.newest or (ref.ordinal is not None and not context.group())
        return named or (bool(intent.mood) and ref.task_id is not None)
    return False


def depends_on_this_turn(intent: Intent) -> bool:
    """In "add X and mark it done", "it" is X: wait for the earlier calls' results.

    Positions ("the second one") keep meaning the list the user saw, so they need not wait."""
    return intent.kind == "list" or intent.ref.pronoun or intent.ref.plural


def plan(intent: Intent, tasks: list[Task] | None, context: ConversationContext) -> Step:
    tasks = tasks or []
    if intent.mood == REFUSE:
        return Step([], answers.declined(intent.kind if intent.kind != "chat" else None))
    if intent.kind == "cancel":
        return Step([], replies.CANCELLED)
    if intent.mood:
        return _plan_mood(intent, tasks, context)
    if intent.kind == "reminders":
        return Step([("list_reminders", {})])
    if intent.kind == "remind" or (intent.kind == "add" and intent.remind):
        return _plan_reminder(intent, tasks, context)
    if intent.kind == "add":
        if not intent.title:
            return Step([], replies.ASK_TITLE)
        try:
            return Step([("add_task", add_arguments(intent, context.now))])
        except Question as question:
            return Step([], question.reply)
    if intent.kind in BULK:
        return _plan_bulk(intent, tasks, context)
    if intent.kind == "undo":
        return _plan_undo(context)
    if intent.kind == "reopen":
        return Step([], replies.CANNOT_REOPEN)
    found = resolve(
        intent.ref,
        tasks=tasks,
        context=context,
        prefer_pending=intent.kind == "complete",
        strict=intent.kind != "show",
    )
    if intent.kind == "show" and found.candidates:  # a search: every match
        found = dataclasses.replace(found, tasks=found.candidates, candidates=[])
    if not found.targets:
        if found.candidates:
            return Step([], replies.ambiguous(found.candidates))
        if intent.ref.query or intent.ref.ordinal is not None:
            return Step([], replies.not_found())
        return Step([], replies.unclear_reference())
    if intent.kind == "show":
        known = {t["id"]: t for t in tasks}
        return Step([], "\n".join(replies.details(known.get(i), i, context.now) for i in found.targets))
    if intent.kind in ACTION_TOOL and intent.ref.plural and len(found.tasks) > 2 and not intent.confirmed:
        bulk = "complete_all" if intent.kind == "complete" else "delete_all"
        return Step([], answers.bulk_offer(bulk, found.tasks, everything=False, status="all", offer=True))
    steps = []
    for target in found.targets:
        if intent.kind in ("update", "reschedule"):
            try:
                args = _changes(intent, _known(target, [*found.tasks, *tasks], context), context)
            except Question as question:
                return Step([], question.reply)
            if not args:
                return Step([], replies.ASK_CHANGE)
            steps.append(("update_task", {"task_id": target, **args}))
        else:
            steps.append((ACTION_TOOL[intent.kind], {"task_id": target}))
    return Step(steps)


def _plan_reminder(intent: Intent, tasks: list[Task], context: ConversationContext) -> Step:
    """'remind me to call mom at 5pm': on the task when it is already on the list, else a new task."""
    same = [t for t in tasks if not t.get("completed") and _norm(t["title"]) == _norm(intent.title or "")]
    found = (
        resolve(intent.ref, tasks=tasks, context=context, strict=True) if intent.kind == "remind" else None
    )
    try:
        if same or (found and len(found.tasks) == 1):
            target = same[0] if same else found.tasks[0]  # type: ignore[union-attr]
            args = reminder_changes(dataclasses.replace(intent, when=None), target, context.now)
            return Step([("update_task", {"task_id": target["id"], **args})])
        if found and found.candidates:
            return Step([], replies.ambiguous(found.candidates))
        if intent.ref.pronoun or intent.ref.plural:  # "remind me about it" with nothing said before
            return Step([], replies.unclear_reference())
        title = re.sub(r"^(?:the|my|a|an)\s+", "", intent.title or "", flags=re.I)
        new = dataclasses.replace(intent, kind="add", title=title[:1].upper() + title[1:], when=intent.remind)
        return Step([("add_task", add_arguments(new, context.now))])
    except Question as question:
        return Step([], question.reply)


def _norm(title: str) -> str:
    return re.sub(r"\s+", " ", title).strip(" .!?").lower()


def _changes(intent: Intent, old: Task | None, context: ConversationContext) -> dict[str, Any]:
    args: dict[str, Any] = reminder_changes(intent, old, context.now)
    if intent.title:
        args["title"] = (old and patched_title(old["title"], intent.title)) or intent.title
    if intent.description is not None:
        args["description"] = intent.description
    if intent.when is not None:
        # "Book a table for Friday" + "make it Saturday": a date in an undated title changes the title
        title = old and not old.get("due_at") and intent.when and patched_title(old["title"], intent.when)
        if title:
            args["title"] = title
        else:
            args["due_at"] = due_at(intent.when, context.now, old)
    if intent.priority:
        args["priority"] = intent.priority
    if intent.tags is not None:
        args["tags"] = new_tags(intent, old)
    return args


def _known(task_id: int, tasks: list[Task], context: ConversationContext) -> Task | None:
    return next((t for t in tasks if t["id"] == task_id), None) or context.snapshot.get(task_id)


def _bulk_pool(intent: Intent, tasks: list[Task], context: ConversationContext) -> list[Task] | Step:
    """The tasks a bulk change covers, or the question to ask when what to spare is unclear."""
    pool = context.group() if intent.ref.plural else tasks
    if intent.ref.query:
        pool = [t for t in pool if match(intent.ref.query, t).score >= 0.5]
    for ref in intent.keep:
        spared = resolve(ref, tasks=tasks, context=context)
        if not spared.targets:  # unsure what to spare: better to ask than to change too much
            return Step(
                [], replies.ambiguous(spared.candidates) if spared.candidates else replies.not_found()
            )
        pool = [t for t in pool if t["id"] not in spared.targets]
    if intent.kind == "complete_all":
        return [t for t in pool if not t.get("completed")]
    return [t for t in pool if intent.status == "all" or t.get("completed") == (intent.status == "completed")]


def _plan_bulk(intent: Intent, tasks: list[Task], context: ConversationContext) -> Step:
    pool = _bulk_pool(intent, tasks, context)
    if isinstance(pool, Step):
        return pool
    if not pool:
        if intent.kind == "complete_all":
            return Step([], replies.nothing_to_complete(bool(tasks)))
        return Step([], replies.nothing_to_delete(intent.status))
    plural = intent.ref.plural and len(pool) <= 2  # "delete both of them": the tasks just shown
    if not intent.confirmed and not plural:
        everything = not intent.ref.query and not intent.keep
        offer = answers.bulk_offer(intent.kind, pool, everything=everything, status=intent.status, offer=True)
        return Step([], offer)
    if intent.confirmed:  # only what the user saw when they said yes
        pool = [t for t in pool if t["id"] in context.snapshot] or pool
    tool = "complete_task" if intent.kind == "complete_all" else "delete_task"
    return Step([(tool, {"task_id": t["id"]}) for t in pool])


def _plan_mood(intent: Intent, tasks: list[Task], context: ConversationContext) -> Step:
    """A question, hedge or hypothetical about a change: answered from the list, never made."""
    mood, kind = intent.mood, intent.kind
    if kind == "add":
        existing = clear_matches(intent.title or "", tasks)
        if mood == SUPPOSE:
            return Step([], answers.would_add(intent.title or "", existing))
        if existing:
            return Step([], answers.status("add", existing, context.now))
        return Step([], answers.offer_add(intent.title or "") if mood == SUGGEST else answers.no_such_task())
    if kind in BULK:
        pool = _bulk_pool(intent, tasks, context)
        if isinstance(pool, Step):
            return pool
        if not pool:
            return Step([], replies.nothing_to_complete(bool(tasks)) if kind == "complete_all" else
                        replies.nothing_to_delete(intent.status))  # fmt: skip
        everything = not intent.ref.query and not intent.keep
        return Step(
            [],
            answers.bulk_offer(
                kind, pool, everything=everything, status=intent.status, offer=mood != SUPPOSE
            ),
        )
    if kind == "undo":
        return Step([], replies.UNDO_HINT)
    found = resolve(intent.ref, tasks=tasks, context=context, prefer_pending=kind == "complete")
    known = {t["id"]: t for t in tasks}
    matches = [known[i] for i in found.task_ids if i in known] + (found.tasks or found.candidates)
    if not matches and mood == SUPPOSE and not intent.ref.query:
        return Step([], answers.hypothetical(kind, []))  # "what happens when I delete a task?"
    if not matches:
        return Step([], answers.no_such_task())
    if mood == SUPPOSE:
        return Step([], answers.hypothetical(kind, matches))
    answer = answers.status(kind, matches, context.now)
    if mood == ASK or len(matches) > 1:
        return Step([], answer)
    return Step([], f"{answer} {answers.offer(kind, matches[0], title=intent.title)}".strip())


def _plan_undo(context: ConversationContext) -> Step:
    calls: list[tuple[str, dict[str, Any]]] = []
    for name, _, result in context.last_actions:
        if not isinstance(result, dict):
            continue
        if name == "add_task":
            calls.append(("delete_task", {"task_id": result["id"]}))
        elif name == "delete_task":
            args = {"title": result["title"]}
            if result.get("description"):
                args["description"] = result["description"]
            calls.append(("add_task", args))
    return Step(calls, "" if calls else replies.CANNOT_UNDO)
