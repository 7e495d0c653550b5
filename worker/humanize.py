"""Dates as people say them, relative to now in the user's zone: "due tomorrow at 5:00 PM", "due Friday",
"overdue since Monday". For replies, reminders and anything else that shows a task's dates."""

from datetime import date, datetime

from dateutil.parser import isoparse


def _as_datetime(value: datetime | str) -> datetime:
    return isoparse(value) if isinstance(value, str) else value


def clock(at: datetime) -> str:
    """'5:00 PM', '9:30 AM'."""
    hour = at.hour % 12 or 12
    return f"{hour}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def day(on: date, today: date) -> str:
    """'today', 'tomorrow', 'yesterday', 'Friday' (within a week either way), 'Dec 12', 'Dec 12, 2027'."""
    days = (on - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    if -6 <= days <= 6:
        return on.strftime("%A")
    if 7 <= days <= 13:
        return f"{on:%A}, {on:%b} {on.day}"
    return f"{on:%b} {on.day}" + (f", {on.year}" if on.year != today.year else "")


def when(at: datetime | str, all_day: bool, now: datetime) -> str:
    """'tomorrow at 5:00 PM', 'Friday', 'today at 9:00 AM': a date (and time) in now's zone."""
    local = _as_datetime(at).astimezone(now.tzinfo)
    said = day(local.date(), now.date())
    return said if all_day else f"{said} at {clock(local)}"


def describe_due(due_at: datetime | str | None, all_day: bool, now: datetime) -> str:
    """'due tomorrow at 5:00 PM', 'due Friday', 'overdue since Monday', '' without a due date."""
    if due_at is None or due_at == "":
        return ""
    local = _as_datetime(due_at).astimezone(now.tzinfo)
    today = now.date()
    overdue = local.date() < today if all_day else local < now
    if not overdue:
        return f"due {when(local, all_day, now)}"
    if not all_day and local.date() == today:
        return f"overdue since {clock(local)}"
    return f"overdue since {day(local.date(), today)}"


_DAY_NAMES = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday"}
_DAY_NAMES |= {"SA": "Saturday", "SU": "Sunday"}
_UNITS = {"HOURLY": "hour", "DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_NTH = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}


def _ordinal(n: int) -> str:
    if n == -1:
        return "last day"
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def describe_repeat(rule: str | None) -> str:
    """An RRULE body in words: 'FREQ=WEEKLY;BYDAY=MO' -> 'every Monday', 'FREQ=DAILY;INTERVAL=3' -> 'every 3
    days', 'FREQ=MONTHLY;BYMONTHDAY=1' -> 'every month on the 1st'; '' for none."""
    if not rule:
        return ""
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    unit = _UNITS.get(parts.get("FREQ", ""), "time")
    every = int(parts.get("INTERVAL", "1"))
    period = {1: f"every {unit}", 2: f"every other {unit}"}.get(every, f"every {every} {unit}s")
    days = [d for d in parts.get("BYDAY", "").split(",") if d]
    if days and all(d in _DAY_NAMES for d in days):
        if days == ["MO", "TU", "WE", "TH", "FR"]:
            return "every weekday" if every == 1 else f"{period} on weekdays"
        named = " and ".join(_DAY_NAMES[d] for d in days)
        return f"every {named}" if every == 1 else f"{period} on {named}"
    if days:  # "1MO": the first Monday
        n, name = int(days[0][:-2] or 1), _DAY_NAMES.get(days[0][-2:], days[0])
        return f"{period} on the {_NTH.get(n, _ordinal(n))} {name}"
    if "BYMONTHDAY" in parts and "BYMONTH" in parts:
        month = datetime(2000, int(parts["BYMONTH"]), 1).strftime("%B")
        return f"{period} on {month} {int(parts['BYMONTHDAY'])}"
    if "BYMONTHDAY" in parts:
        return f"{period} on the {_ordinal(int(parts['BYMONTHDAY']))}"
    return period
