"""Slots -> tool arguments: a due date in the user's zone, a task's tags after a change, a listing's filters
(and the same filters applied to tasks already at hand, with list_tasks's meaning)."""

import dataclasses
import re
from datetime import datetime, time
from typing import Any

from dateutil.parser import isoparse
from dateutil.relativedelta import relativedelta

from worker.offline import dates, replies
from worker.offline.intents import Intent
from worker.offline.resolve import clear_matches

Task = dict[str, Any]
PRIORITIES = ("urgent", "high", "normal", "low")


class Question(Exception):
    """The request needs an answer first (which date? from when?); nothing is changed."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


_SHIFT = re.compile(
    r"^(?:(back|out|later|forward|earlier|ahead|up)\b)\s*(?:by\s+)?"
    r"(?:(an?|one|two|three|four|five|six|seven|\d+|a couple of|a few)\s+(minute|hour|day|week|month)s?)?$",
    re.I,
)
_AMOUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_AMOUNTS |= {"a couple of": 2, "a few": 3}


def _resolve(when: str, now: datetime, default_time: time | None = None) -> dates.Due:
    try:
        return dates.resolve(when, now, default_time)
    except dates.Ambiguous as exc:
        raise Question(replies.ask_date(exc.readings, now)) from None
    except ValueError:
        raise Question(replies.UNKNOWN_DATE) from None


def due_at(when: str, now: datetime, old: Task | None = None) -> str:
    """The due_at argument for a phrase: "" removes the date; "back a day" moves the old one."""
    if when == "":
        return ""
    old_due = isoparse(old["due_at"]).astimezone(now.tzinfo) if old and old.get("due_at") else None
    old_all_day = bool(old and old.get("all_day"))
    if m := _SHIFT.match(when.strip()):
        if old_due is None:
            raise Question(replies.no_due_to_move(old))
        count = (
            int(m.group(2)) if (m.group(2) or "").isdigit() else _AMOUNTS.get((m.group(2) or "a").lower(), 1)
        )
        sign = 1 if m.group(1).lower() in ("back", "out", "later") else -1
        moved = old_due + relativedelta(**{f"{(m.group(3) or 'day').lower()}s": sign * count})
        return moved.date().isoformat() if old_all_day else moved.isoformat(timespec="seconds")
    # "move the dentist to Thursday": at the same hour
    due = _resolve(when, now, old_due.time() if old_due is not None and not old_all_day else None)
    if not due.all_day and old_due is not None and not dates.names_day(when, now):  # "change it to 10am"
        return datetime.combine(old_due.date(), due.at.timetz()).isoformat(timespec="seconds")
    return due.iso()


def add_arguments(intent: Intent, now: datetime) -> dict[str, Any]:
    args: dict[str, Any] = {"title": intent.title}
    if intent.description:
        args["description"] = intent.description
    if intent.when:
        args["due_at"] = due_at(intent.when, now)
    if intent.priority:
        args["priority"] = intent.priority
    if intent.tags:
        args["tags"] = intent.tags
    return args


def new_tags(intent: Intent, old: Task | None) -> list[str]:
    have = list((old or {}).get("tags") or [])
    wanted = intent.tags or []
    if intent.tag_mode == "set":
        return wanted
    if intent.tag_mode == "remove":
        return [t for t in have if t not in wanted]
    return list(dict.fromkeys(have + wanted))


def list_arguments(intent: Intent, now: datetime) -> dict[str, Any]:
    """list_tasks's arguments for a listing ("what's due this week?", "show my urgent tasks")."""
    f = intent.filters
    args: dict[str, Any] = {"status": intent.status}
    if f.get("loose"):  # the dates are applied to the answer, keeping undated tasks
        f = {k: v for k, v in f.items() if k not in ("period", "before", "until")}
    if "period" in f:
        first, after = _period(f["period"], now)
        args["due_after"], args["due_before"] = first.isoformat(), after.isoformat()
    if "before" in f:  # "due before Friday": until Friday begins
        args["due_before"] = _resolve(f["before"], now).at.date().isoformat()
    if "until" in f:  # "due by Friday": Friday included
        args["due_before"] = (_resolve(f["until"], now).at.date() + relativedelta(days=1)).isoformat()
    if f.get("overdue"):
        args["overdue"] = True
    for key in ("priority", "tag", "sort"):
        if key in f:
            args[key] = f[key]
    return args


def _period(phrase: str, now: datetime) -> tuple[Any, Any]:
    try:
        return dates.period(phrase, now)
    except dates.Ambiguous as exc:
        raise Question(replies.ask_date(exc.readings, now)) from None
    except ValueError:
        raise Question(replies.UNKNOWN_DATE) from None


def _due(task: Task, now: datetime) -> datetime | None:
    return isoparse(task["due_at"]).astimezone(now.tzinfo) if task.get("due_at") else None


def listed(tasks: list[Task], intent: Intent, now: datetime) -> list[Task]:
    """The tasks a listing shows, filtered and sorted as list_tasks would."""
    f, status = intent.filters, intent.status
    shown = [t for t in tasks if status == "all" or bool(t.get("completed")) == (status == "completed")]
    if f.get("loose"):  # undated, overdue, or due by the end of the period
        strict = dataclasses.replace(intent, filters={k: v for k, v in f.items() if k != "loose"})
        ends = list_arguments(strict, now).get("due_before")
        end = datetime.combine(datetime.fromisoformat(ends).date(), time(0), now.tzinfo) if ends else None
        shown = [t for t in shown if not (d := _due(t, now)) or end is None or d < end]
        f = {k: v for k, v in f.items() if k not in ("loose", "period", "before", "until")}
        intent = dataclasses.replace(intent, filters=f)
    args = list_arguments(intent, now)
    zone = now.tzinfo
    if "due_after" in args:
        start = datetime.combine(datetime.fromisoformat(args["due_after"]).date(), time(0), zone)
        shown = [t for t in shown if (d := _due(t, now)) and d >= start]
    if "due_before" in args:
        end = datetime.combine(datetime.fromisoformat(args["due_before"]).date(), time(0), zone)
        shown = [t for t in shown if (d := _due(t, now)) and d < end]
    if f.get("overdue"):
        shown = [t for t in shown if not t.get("completed") and (d := _due(t, now)) and d < now]
    if "priority" in f:
        shown = [t for t in shown if t.get("priority", "normal") == f["priority"]]
    if "tag" in f:
        shown = [t for t in shown if f["tag"] in (t.get("tags") or [])]
    if "topic" in f:  # "my work tasks": tagged so, or else about it
        tagged = [t for t in shown if f["topic"] in (t.get("tags") or [])]
        shown = tagged or clear_matches(f["topic"], shown)
    if f.get("sort") == "due":
        shown.sort(key=lambda t: (t.get("due_at") is None, _due(t, now) or now))
    elif f.get("sort") == "priority":
        shown.sort(key=lambda t: PRIORITIES.index(t.get("priority") or "normal"))
    return shown
