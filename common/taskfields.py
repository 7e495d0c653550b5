"""What the task tools and the task listing accept, read in the user's time zone: dates, priorities,
tags and repeat rules. Each reader raises `InvalidValue` with a message that names the problem, before
anything is written."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

from common.models import REPEAT_MAX, TAG_MAX, TAGS_MAX, Priority

PRIORITIES = ", ".join(p.value for p in Priority)
# The end of an all-day task's day: it is due by then, and overdue after.
END_OF_DAY = time(23, 59, 59)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A task may repeat hourly at most: a rule of seconds or minutes is no todo.
_TOO_FREQUENT = re.compile(r"FREQ=(SECONDLY|MINUTELY)", re.IGNORECASE)


class InvalidValue(ValueError):
    pass


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Moment:
    at: datetime
    all_day: bool  # a date without a time: `at` is the end of that day


def moment(field: str, value: str, tz: ZoneInfo) -> Moment:
    """An ISO 8601 date ('2026-12-04': all day) or date-time ('2026-12-04T17:00:00+01:00'; one without an
    offset is read in the user's zone)."""
    text = value.strip()
    if _DATE.fullmatch(text):
        try:
            return Moment(datetime.combine(date.fromisoformat(text), END_OF_DAY, tz), True)
        except ValueError:
            raise InvalidValue(f"{field}: {value!r} is not a real date") from None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidValue(
            f"{field}: {value!r} is not an ISO 8601 date or date-time (e.g. 2026-12-04 or "
            "2026-12-04T17:00:00+01:00)"
        ) from None
    return Moment(at if at.tzinfo else at.replace(tzinfo=tz), False)


def day_start(field: str, value: str, tz: ZoneInfo) -> datetime:
    """A bound of a date range: a plain date means the start of that day in the user's zone."""
    read = moment(field, value, tz)
    if read.all_day:
        return datetime.combine(read.at.date(), time(0), tz)
    return read.at


def search_words(query: str) -> list[str]:
    """The words of a search, safe to put in a text-search query (letters and digits only)."""
    return [word for word in re.findall(r"\w+", query.lower()) if len(word) > 1][:8]


def priority(value: str) -> Priority:
    try:
        return Priority(value.strip().lower())
    except ValueError:
        raise InvalidValue(f"priority must be one of {PRIORITIES} (got {value!r})") from None


def tags(values: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(v.strip().lstrip("#").strip().lower() for v in values))
    if len(cleaned) > TAGS_MAX:
        raise InvalidValue(f"At most {TAGS_MAX} tags (got {len(cleaned)})")
    for tag in cleaned:
        if not 1 <= len(tag) <= TAG_MAX:
            raise InvalidValue(f"A tag must be 1 to {TAG_MAX} characters (got {tag!r})")
    return cleaned


def repeat_rule(value: str) -> str:
    rule = value.strip().removeprefix("RRULE:").removeprefix("rrule:").strip()
    if len(rule) > REPEAT_MAX or _TOO_FREQUENT.search(rule) or "DTSTART" in rule.upper():
        raise InvalidValue(f"repeat: {value!r} is not an hourly, daily, weekly, monthly or yearly RRULE")
    try:
        parsed = rrulestr(rule, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError):
        raise InvalidValue(
            f"repeat: {value!r} is not a valid RRULE (e.g. FREQ=WEEKLY;BYDAY=MO or FREQ=DAILY;INTERVAL=3)"
        ) from None
    if not isinstance(parsed, rrule):
        raise InvalidValue(f"repeat: {value!r} must be a single RRULE")
    return rule.upper()


def first_occurrence(rule: str, tz: ZoneInfo, now: datetime) -> Moment:
    """The first day of the rule from today (a repeating task added without a due date), all day."""
    today = datetime.combine(now.astimezone(tz).date(), time(0))
    first = rrulestr(rule, dtstart=today).after(today, inc=True)
    if first is None:
        raise InvalidValue(f"repeat: {rule!r} has no occurrence from today")
    return Moment(datetime.combine(first.date(), END_OF_DAY, tz), True)


def next_occurrence(rule: str, due: Moment, tz: ZoneInfo) -> Moment | None:
    """The occurrence after `due`, at the same wall-clock time in the user's zone (so 9:00 stays 9:00
    across a daylight-saving change); None when the rule has ended."""
    local = due.at.astimezone(tz).replace(tzinfo=None)
    start = datetime.combine(local.date(), time(0)) if due.all_day else local
    following = rrulestr(rule, dtstart=start).after(start)
    if following is None:
        return None
    if due.all_day:
        return Moment(datetime.combine(following.date(), END_OF_DAY, tz), True)
    return Moment(following.replace(tzinfo=tz), False)


def reminder_before(due: Moment | None, minutes: int) -> datetime:
    if due is None or due.all_day:
        raise InvalidValue("remind_before_minutes needs a task with a due time (give due_at with a time)")
    if minutes < 0:
        raise InvalidValue("remind_before_minutes must be 0 or more")
    return due.at - timedelta(minutes=minutes)
