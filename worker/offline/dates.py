"""Dates and times in the user's words, resolved in the user's time zone.

`find` locates a date phrase inside a sentence ("call mom tomorrow at 5pm" -> "tomorrow at 5pm") with a
small grammar of our own; `resolve` turns a phrase into a `Due` relative to "now", and `period` into a
range for questions ("what's due this week?"). The calendar arithmetic is dateutil's (relativedelta
for "next Friday", "the 1st", "in 2 weeks", "end of the month"; its parser's tables for month and
weekday names); nothing here counts days by hand.

Readings chosen where English is vague, so that replies (which always say the date) can be checked:
- a weekday is the next such day, today included ("Friday" on a Friday is today); "next Friday" is the
  Friday of next week;
- a time without a day is the next time it comes (today, or tomorrow if it has passed);
- an hour without am/pm is afternoon from 1 to 7 ("at 5" is 5 PM) and morning from 8 to 11;
- morning 9:00, noon 12:00, afternoon 15:00, evening 18:00, tonight 20:00, end of day = all day;
- "this weekend" is Saturday; "next week" is next Monday; "end of the week" is Friday (Sunday once it
  has passed); "end of the month" is its last day; "the 1st" is the next 1st;
- "before Friday" is Thursday; "by Friday" is Friday;
- 5/12 with both numbers 12 or less is ambiguous: `Ambiguous` carries both readings to ask about.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.parser import parserinfo
from dateutil.relativedelta import MO, relativedelta, weekday

_NAMES = parserinfo()
_WEEKDAYS = [weekday(n) for n in range(7)]

# ---------------------------------------------------------------------------------------------
# The grammar: a day, a time, or both, after an optional lead word ("by", "on", "at", "due").

_NUM = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a couple of|a few)"
# Not "mon", "wed", "sat", "sun": words of their own ("I sat down").
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|tues?|weds|thu|thur|thurs|fri)(?![a-z])\.?"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_NTH = r"\d{1,2}(?:st|nd|rd|th)"
_DAY = (
    r"(?:(?:the\s+)?day\s+after\s+tomorrow|today|tonight|tomorrow|tmrw?|tmr|"
    rf"(?:(?:this|next|coming|on|this\s+coming)\s+)?{_WEEKDAY}(?:\s+(?:after\s+next|next\s+week|week))?|"
    rf"(?:on\s+)?(?:the\s+)?{_NTH}(?:\s+of\s+(?:{_MONTH}|the\s+month|this\s+month|next\s+month))?|"
    rf"(?:on\s+)?{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|(?:on\s+)?\d{{1,2}}(?:st|nd|rd|"
    rf"th)?\s+{_MONTH}"
    r"(?:,?\s+\d{4})?|(?:on\s+)?\d{4}-\d\d-\d\d|(?:on\s+)?\d{1,2}/\d{1,2}(?:/\d{2,4})?|"
    rf"in\s+{_NUM}\s+(?:days?|weeks?|months?|years?)|{_NUM}\s+(?:days?|weeks?|months?)\s+from\s+(?:now|today)|"
    r"in\s+a\s+fortnight|(?:this|next)\s+(?:week|month|year|weekend)|(?:the\s+|this\s+)?weekend|"
    r"(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|next\s+)?(?:day|week|month|year)|eod|eow|eom|later\s+today)"
)
_CLOCK = (
    r"(?:\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.?|p\.m\.?)|\d{1,2}:\d\d(?:\s*h)?|\d{1,2}\s*o'?clock|noon|midday|"
    r"midnight)"
)
_PART = r"(?:morning|afternoon|evening|night|lunch(?:time)?)"
_TIME = (
    rf"(?:(?:at|@|around|by|before|from)\s+)?{_CLOCK}(?:\s+(?:in\s+the\s+)?{_PART})?|"
    rf"at\s+\d{{1,2}}(?!\s*[/\d]|:\d)(?:\s+(?:in\s+the\s+)?{_PART})?|(?:in\s+the|this|tomorrow|"
    rf"at)\s+{_PART}|in\s+{_NUM}\s+(?:minutes?|mins?|hours?|hrs?)|in\s+(?:half\s+an|an)\s+hour|"
    rf"in\s+an\s+hour\s+and\s+a\s+half"
)
_LEAD = r"(?:(?:due|by|before|until|till|no\s+later\s+than|on|for|from)\s+)"
_DAY_TIME = rf"(?:{_DAY})(?:\s*,?\s*(?:at\s+|@\s*)?(?:{_TIME}|(?:in\s+the\s+)?{_PART}))?"
PHRASE = re.compile(
    rf"(?<![\w-]){_LEAD}*(?:{_DAY_TIME}|(?:{_TIME})(?:\s*,?\s*(?:on\s+)?(?:{_DAY}))?)(?![\w-])", re.I
)


def find(text: str) -> re.Match[str] | None:
    """The date phrase in a sentence: the last one, where people put it ("call mom tomorrow")."""
    found = None
    for m in PHRASE.finditer(text):
        found = m
    return found


def strip(text: str) -> tuple[str, str | None]:
    """('call mom', 'tomorrow at 5pm') from 'call mom tomorrow at 5pm'."""
    m = find(text)
    if not m:
        return text, None
    rest = (text[: m.start()] + " " + text[m.end() :]).strip()
    rest = re.sub(r"\s+(?:,\s*)?$|^\s*,\s*|\s+,", "", re.sub(r"\s{2,}", " ", rest))
    return rest.strip(" ,;:-"), m.group(0).strip()


# ---------------------------------------------------------------------------------------------
# Resolving


@dataclass(frozen=True)
class Due:
    at: datetime  # aware, in the user's zone; for a day without a time, that day's start
    all_day: bool

    def iso(self) -> str:
        """What the tools take: a plain date for a day, a date-time with offset for a time."""
        return self.at.date().isoformat() if self.all_day else self.at.isoformat(timespec="seconds")


class Ambiguous(ValueError):
    """A date with two readings (5/12): the model asks which."""

    def __init__(self, readings: list[date]) -> None:
        super().__init__("ambiguous date")
        self.readings = readings


_COUNTS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a few": 3,
}  # fmt: skip
_PART_HOURS = {"morning": 9, "lunch": 12, "lunchtime": 12, "afternoon": 15, "evening": 18, "night": 20}


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _COUNTS[re.sub(r"\s+", " ", word.lower())]


def _weekday(name: str) -> weekday:
    found = _NAMES.weekday(name.rstrip(".")[:3])
    if found is None:
        raise ValueError(name)
    return _WEEKDAYS[found]


def _month(name: str) -> int:
    found = _NAMES.month(name.rstrip(".")[:3])
    if found is None:
        raise ValueError(name)
    return found


def _next_week(today: date) -> date:
    """Monday of next week."""
    return today + relativedelta(days=1, weekday=MO)


_TODAY = r"\b(?:today|tonight|eod|end of (?:the )?day|later today|this (?:morning|afternoon|evening))\b"


def _day(phrase: str, today: date) -> date | None:
    """The day a phrase names, or None when it names only a time."""
    p = re.sub(r"\s+", " ", phrase.lower()).strip()
    p = re.sub(r"^(?:on|this coming|coming|the) ", "", p)
    if re.search(r"day after tomorrow", p):
        return today + relativedelta(days=2)
    if re.search(_TODAY, p):
        return today
    if re.search(r"\b(?:tomorrow|tmrw?|tmr)\b", p):
        return today + relativedelta(days=1)
    if m := re.search(rf"\b(this |next )?({_WEEKDAY})(?: (after next|next week|week))?", p):
        wd = _weekday(m.group(2))
        if m.group(1) == "next " or m.group(3) == "next week":
            return _next_week(today) + relativedelta(weekday=wd)
        if m.group(3) == "after next":
            return _next_week(today) + relativedelta(weeks=1, weekday=wd)
        if m.group(3) == "week":  # "Friday week": a week from the coming Friday
            return today + relativedelta(weekday=wd, weeks=1)
        return today + relativedelta(weekday=wd)
    if m := re.search(r"(\d{4})-(\d\d)-(\d\d)", p):
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := re.search(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?", p):
        return _slashed(int(m.group(1)), int(m.group(2)), m.group(3), today)
    if m := re.search(rf"({_MONTH}) (\d{{1,2}})(?:st|nd|rd|th)?(?:,? (\d{{4}}))?", p):
        return _on(today, _month(m.group(1)), int(m.group(2)), m.group(3))
    if m := re.search(rf"(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({_MONTH})(?:,? (\d{{4}}))?", p):
        return _on(today, _month(m.group(2)), int(m.group(1)), m.group(3))
    if m := re.search(r"(\d{1,2})(?:st|nd|rd|th)(?: of (this|next) month)?", p):
        day = int(m.group(1))
        if m.group(2) == "next":
            return today + relativedelta(months=1, day=day)
        candidate = today + relativedelta(day=day)
        return candidate if candidate >= today else today + relativedelta(months=1, day=day)
    if m := re.search(rf"(?:in )?({_NUM}) (day|week|month|year)s?", p):
        return today + relativedelta(**{m.group(2) + "s": _count(m.group(1))})
    if "fortnight" in p:
        return today + relativedelta(weeks=2)
    if re.search(r"\bnext week\b", p):
        return _next_week(today)
    if re.search(r"\bnext weekend\b", p):
        return _next_week(today) + relativedelta(weekday=_WEEKDAYS[5])
    if re.search(r"\bweekend\b", p):
        return today if today.weekday() >= 5 else today + relativedelta(weekday=_WEEKDAYS[5])
    if re.search(r"\b(?:end of (?:the |this )?week|eow|this week)\b", p):
        friday = today + relativedelta(weekday=_WEEKDAYS[4])
        return friday if today.weekday() <= 4 else today + relativedelta(weekday=_WEEKDAYS[6])
    if re.search(r"\bend of next week\b", p):
        return _next_week(today) + relativedelta(weekday=_WEEKDAYS[4])
    if re.search(r"\b(?:end of (?:the |this )?month|eom|this month)\b", p):
        return today + relativedelta(day=31)
    if re.search(r"\bend of next month\b", p):
        return today + relativedelta(months=1, day=31)
    if re.search(r"\bnext month\b", p):
        return today + relativedelta(months=1, day=1)
    if re.search(r"\b(?:end of (?:the |this )?year|this year)\b", p):
        return today + relativedelta(month=12, day=31)
    if re.search(r"\bnext year\b", p):
        return today + relativedelta(years=1, month=1, day=1)
    return None


def _on(today: date, month: int, day: int, year: str | None) -> date:
    if year:
        return date(int(year), month, 1) + relativedelta(day=day)
    candidate = today + relativedelta(month=month, day=day)
    return candidate if candidate >= today else candidate + relativedelta(years=1, month=month, day=day)


def _slashed(a: int, b: int, year: str | None, today: date) -> date:
    """5/12: month/day or day/month. Where only one reading is a date, that one; else ask."""
    readings = []
    for month, day in ((a, b), (b, a)):
        if 1 <= month <= 12 and 1 <= day <= 31:
            full = int(year) + (2000 if year and len(year) == 2 else 0) if year else None
            readings.append(_on(today, month, day, str(full) if full else None))
    readings = list(dict.fromkeys(readings))
    if not readings:
        raise ValueError(f"{a}/{b}")
    if len(readings) > 1:
        raise Ambiguous(readings)
    return readings[0]


def _clock(phrase: str) -> time | None:
    """The time of day a phrase names, or None."""
    p = re.sub(r"\s+", " ", phrase.lower()).replace(".", "")
    if re.search(r"\b(?:noon|midday)\b", p):
        return time(12, 0)
    if re.search(r"\bmidnight\b", p):
        return time(23, 59)
    part = re.search(rf"\b({_PART}|tonight)\b", p)
    m = (
        re.search(r"\b(\d{1,2})(?::(\d\d))? ?(am|pm)\b", p)
        or re.search(r"(?<![\d/-])(\d{1,2}):(\d\d) ?(h)?", p)
        or re.search(r"\b(\d{1,2})()( ?o'?clock)", p)
        or re.search(r"\b(?:at|@|around|by|before|from) (\d{1,2})()()(?![\d/:]|st|nd|rd|th)", p)
    )
    if m:
        hour, minute, suffix = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").strip()
        if hour > 23 or minute > 59:
            return None
        if suffix == "pm" and hour < 12:
            hour += 12
        elif suffix == "am" and hour == 12:
            hour = 0
        elif suffix not in ("am", "pm", "h") and hour <= 12:
            evening = part and part.group(1) in ("afternoon", "evening", "night", "tonight")
            if evening or (not part and 1 <= hour <= 7):
                hour = hour % 12 + 12  # "at 5": people mean the afternoon
        return time(hour, minute)
    if part:
        return time(_PART_HOURS.get(part.group(1), 20), 0)
    return None


def resolve(phrase: str, now: datetime, default_time: time | None = None) -> Due:
    """A phrase ("tomorrow at 5pm", "next Tuesday 3:30", "the 1st") as a due date in `now`'s zone.

    default_time: the time for a phrase that names only a day (a task keeps its hour when moved)."""
    p = re.sub(r"\s+", " ", phrase.lower()).strip(" ,")
    zone = now.tzinfo
    if m := re.search(rf"in ({_NUM}|half an|an) (minute|min|hour|hr)s?(?: and a half)?", p):
        amount = 0.5 if m.group(1) == "half an" else _count(m.group(1))
        if "and a half" in p:
            amount += 0.5
        unit = "minutes" if m.group(2).startswith("min") else "hours"
        at = now + timedelta(**{unit: amount})
        return Due(at.replace(second=0, microsecond=0), all_day=False)
    before = bool(re.match(r"(?:.* )?before\b", p)) and not re.search(
        r"before \d|before (?:noon|midnight)", p
    )
    today = now.date()
    day = _day(p, today)
    at = _clock(p)
    if day is None and at is None:
        raise ValueError(phrase)
    if at is None and default_time is not None and not before:
        at = default_time
    if at is None:
        assert day is not None
        if before:
            day -= relativedelta(days=1)
        return Due(datetime.combine(day, time(0, 0), zone), all_day=True)
    if day is None:  # a time alone: the next time it comes
        when = datetime.combine(today, at, zone)
        if when <= now:
            when = datetime.combine(today + relativedelta(days=1), at, zone)
        return Due(when, all_day=False)
    when = datetime.combine(day, at, zone)
    if when <= now and re.search(_WEEKDAY, p) and not re.search(r"\b(?:today|tonight)\b", p):
        when += relativedelta(weeks=1)  # "Friday at 9am" said on Friday at 10am: next Friday
    return Due(when, all_day=False)


def names_day(phrase: str, now: datetime) -> bool:
    """Whether a phrase says a day ("Friday at 5") or only a time ("at 5", "10am")."""
    p = re.sub(r"\s+", " ", phrase.lower()).strip()
    relative = re.search(r"\bin (?:half an|an?|\S+) (?:minute|min|hour|hr)", p)  # "in half an hour": from now
    return bool(relative) or _day(p, now.date()) is not None


def period(phrase: str, now: datetime) -> tuple[date, date]:
    """The days a question covers, as [first, after last): 'today', 'this week', 'next month', 'Friday'."""
    p = re.sub(r"\s+", " ", phrase.lower()).strip()
    today = now.date()
    if re.search(r"\b(?:this|the) week\b|\bweek\b$", p) and "next" not in p:
        return today, _next_week(today)
    if re.search(r"\bnext week\b", p):
        return _next_week(today), _next_week(today) + relativedelta(weeks=1)
    if re.search(r"\b(?:this|the) month\b", p):
        return today, today + relativedelta(months=1, day=1)
    if re.search(r"\bnext month\b", p):
        first = today + relativedelta(months=1, day=1)
        return first, first + relativedelta(months=1)
    if re.search(r"\b(?:this )?weekend\b", p):
        saturday = today if today.weekday() >= 5 else today + relativedelta(weekday=_WEEKDAYS[5])
        return saturday, saturday + relativedelta(weekday=MO)
    day = _day(p, today)
    if day is None:
        raise ValueError(phrase)
    return day, day + relativedelta(days=1)
