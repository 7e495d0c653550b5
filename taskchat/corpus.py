"""What a corpus case expects of the tasks (format: tests/eval/README.md), shared by `taskchat eval` and the
offline model's unit tests.

Dates are written relative to "now" in the case's time zone and computed here with dateutil, never with
the model's own parser (a test that shared it could not fail):

    {"days": 1, "time": "17:00"}       tomorrow at 17:00          {"days": 0}          today, all day
    {"weekday": "fri"}                 the next Friday, today included, all day
    {"week": 1, "weekday": "tue"}      Monday of next week, then the next Tuesday (next week's Tuesday)
    {"week": 1}                        Monday of next week        {"weeks": 2}         two weeks from today
    {"day_of_month": 1}                the next 1st, today included
    {"month": 12, "day_of_month": 5}   the next 5 December, today included
    {"months": 1, "day": 1}            the 1st of next month      {"last_day_of_month": true}
    {"next_time": "17:00"}             the next 17:00 to come (today, or tomorrow once it has passed)
    {"minutes": 90}                    90 minutes from now (within 2 minutes)
    null                               no date
Keys apply in the order week, weekday, months, weeks, days, day (that day of the month reached so far),
month/day_of_month, last_day_of_month; then "time". A weekday with a time that has already passed today
means the same weekday next week.
"""

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from dateutil.parser import isoparse
from dateutil.relativedelta import MO, relativedelta, weekday
from dateutil.rrule import rrulestr

_WEEKDAYS = {name: weekday(n) for n, name in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])}


def _norm(text: str | None) -> str:
    text = re.sub(r"\s+", " ", text or "").strip().strip("\"'“”‘’").strip()
    return text.rstrip(".!?,;:").strip().lower()


def expected_moment(spec: dict[str, Any], now: datetime) -> tuple[datetime, bool]:
    """(the moment, all day) a date notation names, in now's zone."""
    zone = now.tzinfo
    if "minutes" in spec:
        return now + timedelta(minutes=spec["minutes"]), False
    if "next_time" in spec:
        at = time.fromisoformat(spec["next_time"])
        when = datetime.combine(now.date(), at, zone)
        return (when if when > now else when + relativedelta(days=1)), False
    day: date = now.date()
    if "week" in spec:
        day = (
            day + relativedelta(weekday=MO(-1))
            if spec["week"] == 0
            else day + relativedelta(days=1, weekday=MO)
        )
        day += relativedelta(weeks=max(spec["week"] - 1, 0))
    if "weekday" in spec:
        day += relativedelta(weekday=_WEEKDAYS[spec["weekday"]])
    day += relativedelta(months=spec.get("months", 0), weeks=spec.get("weeks", 0), days=spec.get("days", 0))
    if "day" in spec:
        day += relativedelta(day=spec["day"])
    if "day_of_month" in spec:
        moved = day + relativedelta(month=spec.get("month", day.month), day=spec["day_of_month"])
        if moved < day:
            step = relativedelta(years=1) if "month" in spec else relativedelta(months=1)
            moved = (
                day
                + step
                + relativedelta(month=spec.get("month", (day + step).month), day=spec["day_of_month"])
            )
        day = moved
    if spec.get("last_day_of_month"):
        day += relativedelta(day=31)
    if "time" not in spec:
        return datetime.combine(day, time(0, 0), zone), True
    when = datetime.combine(day, time.fromisoformat(spec["time"]), zone)
    if "weekday" in spec and when <= now:
        when += relativedelta(weeks=1)
    return when, False


def due_argument(spec: dict[str, Any] | None, now: datetime) -> str | None:
    """A notation as the tools take it: a plain date for a day, a date-time with offset for a time."""
    if spec is None:
        return None
    at, all_day = expected_moment(spec, now)
    return at.date().isoformat() if all_day else at.isoformat(timespec="seconds")


def _date_matches(
    value: str | None, all_day: bool | None, spec: dict[str, Any] | None, now: datetime
) -> bool:
    if spec is None:
        return not value
    if not value:
        return False
    have = isoparse(value).astimezone(now.tzinfo)
    want, want_all_day = expected_moment(spec, now)
    if all_day is not None and bool(all_day) != want_all_day:
        return False
    if want_all_day:
        return have.date() == want.date()
    slack = timedelta(minutes=2) if "minutes" in spec else timedelta(seconds=1)
    return abs(have - want) <= slack


def _same_rule(have: str | None, want: str | None) -> bool:
    """Two RRULE bodies are the same when they give the same next occurrences."""
    if not want or not have:
        return not want and not have
    start = datetime(2026, 1, 1, 9, 0)
    try:
        a, b = rrulestr(have, dtstart=start), rrulestr(want, dtstart=start)
    except ValueError:
        return False
    return list(a.xafter(start, count=6, inc=True)) == list(b.xafter(start, count=6, inc=True))


def task_matches(task: dict[str, Any], expected: dict[str, Any], now: datetime) -> bool:
    if _norm(task["title"]) not in {_norm(t) for t in expected["title"]}:
        return False
    if task.get("completed") != expected.get("completed", task.get("completed")):
        return False
    if "description" in expected and _norm(task.get("description")) != _norm(expected["description"]):
        return False
    if "due" in expected and not _date_matches(task.get("due_at"), task.get("all_day"), expected["due"], now):
        return False
    if "priority" in expected and task.get("priority", "normal") != expected["priority"]:
        return False
    if "tags" in expected and sorted(task.get("tags") or []) != sorted(t.lower() for t in expected["tags"]):
        return False
    if "remind" in expected and not _date_matches(task.get("remind_at"), None, expected["remind"], now):
        return False
    return "repeat" not in expected or _same_rule(task.get("repeat"), expected["repeat"])


def same_tasks(have: list[dict[str, Any]], want: list[dict[str, Any]], now: datetime) -> bool:
    """Every expected task matches one task, and no task is left over."""
    remaining = list(have)
    for expected in want:
        found = next((t for t in remaining if task_matches(t, expected, now)), None)
        if found is None:
            return False
        remaining.remove(found)
    return not remaining


def starting_arguments(task: dict[str, Any], now: datetime) -> dict[str, Any]:
    """add_task's arguments for a case's starting task."""
    args: dict[str, Any] = {"title": task["title"]}
    for key in ("description", "priority", "tags", "repeat"):
        if task.get(key) is not None:
            args[key] = task[key]
    if task.get("due") is not None:
        args["due_at"] = due_argument(task["due"], now)
    if task.get("remind") is not None:
        args["remind_at"] = due_argument(task["remind"], now)
    return args
