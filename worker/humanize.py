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
