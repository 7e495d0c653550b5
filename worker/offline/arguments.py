"""Slots -> tool arguments: a due date in the user's zone, a task's tags after a change, a listing's filters
(and the same filters applied to tasks already at hand, with list_tasks's meaning)."""

import dataclasses
import re
from datetime import datetime, time
from typing import Any

from dateutil.parser import isoparse
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from worker.offline import answers, dates, replies
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
    r"^(?:(back|out|later|forward|earlier|ahead|up)\b)\s*(?:by\s+)?(?:(an?|one|two|three|four|five|six|"
    r"seven|\d+|a couple of|a few)\s+(minute|hour|day|week|month)s?)?$",
    re.I,
)
_AMOUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_AMOUNTS |= {"a couple of": 2, "a few": 3}


def _resolve(when: str, now: datetime, default_time: time | None = None) -> dates.Due:
    try:
        return dates.resolve(when, now, default_time)
    except dates.Ambiguous as exc:
        raise Question(answers.ask_date(exc.readings, now)) from None
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
            raise Question(answers.no_due_to_move(old))
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


def remind_at(when: str, now: datetime, *, confirmed: bool = False) -> str | None:
    """When to remind for a phrase. A time that has passed today is asked about, unless the user said yes
    to tomorrow; a day without a time reminds at 9:00 that morning, if that is still to come."""
    due = _resolve(when, now)
    if due.all_day:
        morning = datetime.combine(due.at.date(), time(9, 0), now.tzinfo)
        return morning.isoformat(timespec="seconds") if morning > now else None
    at = due.at
    if not dates.names_day(when, now):  # "at 5pm": today at 5 PM, unless that has passed
        today = datetime.combine(now.date(), at.timetz())
        if today > now:
            at = today
        elif not confirmed:
            raise Question(answers.reminder_passed(today, now))
    elif at <= now:
        if not confirmed:
            raise Question(answers.reminder_passed(at, now))
        while at <= now:
            at += relativedelta(days=1)
    return at.isoformat(timespec="seconds")


def first_due(rule: str, when: str | None, now: datetime) -> str:
    """A repeating task's first occurrence from now: a day, or a time when one was said."""
    if not when and "FREQ=HOURLY" in rule:  # "every hour": from the next full hour
        when = f"at {(now + relativedelta(hours=1)):%H}:00"
    start = _resolve(when, now) if when else None
    rule = re.sub(r";INTERVAL=\d+", "", rule)  # "every other Friday" starts on the next Friday
    if start is None or start.all_day:
        day = start.at.date() if start else now.date()
        begin = datetime.combine(day, time(0), now.tzinfo)
        first = rrulestr(rule, dtstart=begin).after(begin, inc=True) or begin
        return first.date().isoformat()
    begin = datetime.combine(now.date(), start.at.timetz())
    first = rrulestr(rule, dtstart=begin).after(now) or start.at
    return first.isoformat(timespec="seconds")


def add_arguments(intent: Intent, now: datetime) -> dict[str, Any]:
    args: dict[str, Any] = {"title": intent.title}
    if intent.description:
        args["description"] = intent.description
    if intent.repeat:
        args["repeat"] = intent.repeat
        args["due_at"] = first_due(intent.repeat, intent.when, now)
    elif intent.when:
        args["due_at"] = due_at(intent.when, now)
    if intent.remind and (at := remind_at(intent.remind, now, confirmed=intent.confirmed)):
        args["remind_at"] = at
    if intent.priority:
        args["priority"] = intent.priority
    if intent.tags:
        args["tags"] = intent.tags
    return args


def reminder_changes(intent: Intent, old: Task | None, now: datetime) -> dict[str, Any]:
    """A reminder or repeat set on, or taken off, a task."""
    args: dict[str, Any] = {}
    old = old or {}
    if intent.remind == "":
        if not old.get("remind_at"):
            raise Question(answers.no_reminder(old))
        args["remind_at"] = ""
    elif intent.remind and _SHIFT.match(intent.remind):  # "snooze the reminder by an hour"
        if not old.get("remind_at"):
            raise Question(answers.no_reminder(old))
        args["remind_at"] = due_at(intent.remind, now, {"due_at": old["remind_at"], "all_day": False})
    elif intent.remind:
        args["remind_at"] = remind_at(intent.remind, now, confirmed=intent.confirmed) or ""
        if not args["remind_at"]:
            raise Question(answers.reminder_passed(None, now))
    if intent.remind_before is not None:
        args |= _before_due(intent.remind_before, old, now)
    if intent.repeat == "" and not old.get("repeat"):
        raise Question(answers.no_repeat(old))
    if intent.repeat is not None:
        args["repeat"] = intent.repeat
        if intent.repeat and old.get("due_at"):  # "the bins happen every Tuesday now": next due on a Tuesday
            due = isoparse(old["due_at"]).astimezone(now.tzinfo)
            args["due_at"] = first_due(intent.repeat, None if old.get("all_day") else f"at {due:%H:%M}", now)
    return args


def _before_due(minutes: int, old: Task, now: datetime) -> dict[str, Any]:
    """ "An hour before it's due": needs a due time; a day or more before an undated-hour task is 9:00."""
    if not old.get("due_at"):
        raise Question(answers.no_due_for_reminder(old))
    due = isoparse(old["due_at"]).astimezone(now.tzinfo)
    if old.get("all_day"):
        if minutes < 1440:
            raise Question(answers.no_due_time(old, now))
        at = datetime.combine(due.date() - relativedelta(days=minutes // 1440), time(9, 0), now.tzinfo)
        if at <= now:
            raise Question(answers.reminder_passed(None, now))
        return {"remind_at": at.isoformat(timespec="seconds")}
    if due - relativedelta(minutes=minutes) <= now:
        raise Question(answers.reminder_passed(None, now))
    return {"remind_before_minutes": minutes}


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
        raise Question(answers.ask_date(exc.readings, now)) from None
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
    if f.get("repeating"):
        shown = [t for t in shown if t.get("repeat")]
    if "topic" in f:  # "my work tasks": tagged so, or else about it
        tagged = [t for t in shown if f["topic"] in (t.get("tags") or [])]
        shown = tagged or clear_matches(f["topic"], shown)
    if f.get("sort") == "due":
        shown.sort(key=lambda t: (t.get("due_at") is None, _due(t, now) or now))
    elif f.get("sort") == "priority":
        shown.sort(key=lambda t: PRIORITIES.index(t.get("priority") or "normal"))
    return shown
