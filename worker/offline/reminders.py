"""Reminders and repeats: "remind me to call mom at 5pm", "remind me about the report an hour before it's
due", "every Monday take out the bins" (an RFC 5545 RRULE body), "stop repeating the bins task", "cancel the
reminder for X", "what reminders do I have?"."""

import re

from dateutil.parser import parserinfo
from dateutil.rrule import rrulestr

from worker.offline import dates
from worker.offline.changes import REF
from worker.offline.intents import Intent
from worker.offline.references import parse_ref, trim_ref
from worker.offline.text import Text, title_text

_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
_NAMES = parserinfo()
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|tue|tues|weds|thu|thur|thurs|fri)"
_WEEKDAYS = rf"{_WEEKDAY}s?(?:\s*(?:,|and|&|or)\s*{_WEEKDAY}s?)*"
_COUNT = {"other": 2, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3, "three": 3, "four": 4, "five": 5}
_COUNT |= {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_UNIT = {"hour": "HOURLY", "day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY"}
_ADVERB = {"daily": "DAILY", "nightly": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "yearly": "YEARLY"}
_ADVERB |= {"annually": "YEARLY"}
_PART = {"morning": "09:00", "afternoon": "15:00", "evening": "18:00", "night": "20:00"}
_NUM = r"(\d+|other|second|2nd|third|3rd|two|three|four|five|six|seven|eight|nine|ten)"
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_NTH = r"(\d{1,2})(?:st|nd|rd|th)"
_ORDINAL = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_ORDINAL["last"] = -1


def _count(word: str | None) -> int:
    return 1 if not word else int(word) if word.isdigit() else _COUNT[word.lower()]


def _days(words: str) -> str:
    found = [_DAYS[_NAMES.weekday(w[:3])] for w in re.findall(_WEEKDAY, words, re.I)]  # type: ignore[index]
    return ",".join(dict.fromkeys(found))


def _rule(freq: str, interval: int = 1, **parts: str) -> str:
    body = f"FREQ={freq}" + (f";INTERVAL={interval}" if interval > 1 else "")
    return body + "".join(f";{key.upper()}={value}" for key, value in parts.items() if value)


# (pattern, how to make the rule from the match, the time of day it implies)
_RECURRENCES: list[tuple[str, object, str | None]] = [
    (r"\b(?:every|each)\s+(?:work(?:ing)?\s*day|weekday)s?\b|\bon\s+weekdays\b|\bweekdays\b|"
     r"\bmonday\s+(?:to|through|thru|-)\s+friday\b", lambda m: _rule("WEEKLY", byday="MO,TU,WE,TH,FR"), None),
    (r"\b(?:every|each)\s+weekend\b|\bon\s+weekends\b", lambda m: _rule("WEEKLY", byday="SA,SU"), None),
    (rf"\b(?:on\s+)?the\s+(first|1st|second|2nd|third|3rd|fourth|4th|last)\s+({_WEEKDAY})\s+of\s+(?:every|each|the)"
     r"\s+month\b", lambda m: _rule("MONTHLY", byday=f"{_ORDINAL[m.group(1).lower()]}{_days(m.group(2))}"),
     None),
    (r"\b(?:on\s+)?the\s+last\s+day\s+of\s+(?:every|each|the)\s+month\b|\b(?:every|each)\s+month\s+on\s+the\s+last"
     r"\s+day\b", lambda m: _rule("MONTHLY", bymonthday="-1"), None),
    (rf"\b(?:(?:every|each)\s+month|monthly)\s+on\s+the\s+{_NTH}\b|\b(?:on\s+)?the\s+{_NTH}\s+of\s+(?:every|each)\s+"
     rf"month\b|\b(?:every|each)\s+{_NTH}\b(?!\s+(?:of\s+)?{_MONTH})",
     lambda m: _rule("MONTHLY", bymonthday=next(g for g in m.groups() if g)), None),
    (rf"\b(?:(?:every|each)\s+year|yearly|annually)\s+on\s+{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b|"
     rf"\b(?:every|each)\s+{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b",
     lambda m: _rule("YEARLY", bymonth=str(_NAMES.month((m.group(1) or m.group(3))[:3])),
                     bymonthday=m.group(2) or m.group(4)), None),
    (rf"\b(?:every|each)\s+(?:{_NUM}\s+)?(?:weeks?\s+on\s+)?({_WEEKDAYS})\b",
     lambda m: _rule("WEEKLY", _count(m.group(1)), byday=_days(m.group(2))), None),
    (rf"\b(weekly|fortnightly)\s+on\s+({_WEEKDAYS})\b",
     lambda m: _rule("WEEKLY", 2 if m.group(1).lower() == "fortnightly" else 1, byday=_days(m.group(2))),
     None),
    (rf"\b(?:on\s+)?({_WEEKDAY}s(?:\s*(?:,|and|&)\s*{_WEEKDAY}s)*)\b",  # "on Mondays"
     lambda m: _rule("WEEKLY", byday=_days(m.group(1))), None),
    (rf"\b(?:every|each)\s+{_NUM}\s+(hour|day|week|month|year)s?\b",
     lambda m: _rule(_UNIT[m.group(2).lower()], _count(m.group(1))), None),
    (r"\b(?:fortnightly|bi-?weekly)\b", lambda m: _rule("WEEKLY", 2), None),
    (r"\b(?:every|each)\s+(morning|afternoon|evening|night)\b|\bnightly\b", lambda m: _rule("DAILY"), "part"),
    (r"\b(?:every|each)\s+(hour|day|week|month|year)\b|\b(hourly)\b",
     lambda m: _rule(_UNIT[(m.group(1) or "hour").lower()]), None),
    (r"\b(daily|weekly|monthly|yearly|annually)\b", lambda m: _rule(_ADVERB[m.group(1).lower()]), None),
]  # fmt: skip


def take_repeat(body: str) -> tuple[str, str | None, str | None]:
    """(the words without the repeat, the RRULE body, a time of day it implies: "every morning" -> 09:00).

    Only words that are not a weekly "on Mondays" inside a plain date are taken."""
    for pattern, make, implied in _RECURRENCES:
        if not (m := re.search(pattern, body, re.I)):
            continue
        rule = make(m)  # type: ignore[operator]
        if rule is None:
            continue
        try:
            rrulestr(rule)
        except ValueError:
            return body, None, None
        rest = (body[: m.start()] + " " + body[m.end() :]).strip()
        rest = re.sub(r"\s{2,}", " ", rest).strip(" ,;:-")
        hour = None
        if implied == "part":
            part = m.group(1).lower() if m.groups() and m.group(1) else "night"
            hour = _PART[part]
        return rest, rule, hour
    return body, None, None


# ---------------------------------------------------------------------------------------------
# Changes and questions

_AMOUNT = r"(?:an?|one|\d+|half\s+an|two|three|a\s+couple\s+of|a\s+few)"
_BEFORE = rf"({_AMOUNT}\s+(?:minutes?|mins?|hours?|hrs?|days?|weeks?))"
_DUE = (
    r"(?:\s+(?:it'?s|it\s+is|its|the|they'?re|is)?\s*(?:due|deadline|due\s+date|due\s+time|starts?|begins?))?"
)
_REMIND_BEFORE = [  # (pattern, reference group, amount group)
    (rf"^remind\s+me\s+(?:about|of)\s+{REF}\s+{_BEFORE}\s+(?:before|ahead\s+of|prior\s+to|early)(?:\s+(?:it|that))?"
     rf"{_DUE}$", 1, 2),
    (rf"^remind\s+me\s+{_BEFORE}\s+before\s+{REF}(?:\s+is\s+due|\s+starts|\s+begins|'s\s+due)?$", 2, 1),
    (rf"^(?:set|add|put|create)\s+(?:a\s+)?reminder\s+(?:for|on|to)\s+{REF}\s+{_BEFORE}\s+(?:before|ahead)"
     rf"(?:\s+(?:it|that))?{_DUE}$", 1, 2),
]  # fmt: skip
# "remind me about the report tomorrow at 9": a reminder on the task named, or a new task to be reminded of
_REMIND_ABOUT = re.compile(
    r"^(?:remind\s+me\s+(?:about|of)|set\s+(?:a\s+)?reminder\s+(?:for|on))\s+(?!to\s)(.+)$", re.I
)
_REMINDER_OF = r"(?:the\s+|my\s+)?(?!(?:an?|new|another|one|the|my)\s|reminder\b)(.+?)(?:'s|’s)?\s+reminder"
_MOVE_REMINDER = [  # (pattern, reference group, when group)
    (rf"^(?:change|move|set|push|reschedule|update|switch|make)\s+{_REMINDER_OF}\s+(?:to|for|until|till)\s+(.+)$",
     1, 2),
    (rf"^(?:change|move|set|push|reschedule|update|switch)\s+(?:the\s+)?reminder\s+(?:for|on|of|about)\s+{REF}\s+"
     r"(?:to|for|until|till)\s+(.+)$", 1, 2),
    (rf"^(?:snooze|delay|push(?:\s+back)?|postpone|move\s+back)\s+{_REMINDER_OF}\s+((?:by\s+)?(?:an?|one|\d+|half\s+an|"
     r"two|three|a\s+few)\s+(?:minutes?|mins?|hours?|hrs?|days?))$", 1, 2),
]  # fmt: skip
_UNREMIND = [
    r"^(?:cancel|remove|delete|clear|turn\s+off|drop|disable|stop|kill)\s+(?:the\s+|my\s+)?reminders?\s+"
    rf"(?:for|on|about|of|from)\s+{REF}$",
    rf"^(?:cancel|remove|delete|clear|turn\s+off|drop|disable)\s+{REF}(?:'s|’s)\s+reminders?$",
    rf"^(?:don'?t|do\s+not|no\s+need\s+to)\s+remind\s+me\s+(?:about|of|to)\s+{REF}(?:\s+any\s?more)?$",
    rf"^(?:no|no\s+more)\s+reminders?\s+(?:for|about|on)\s+{REF}$",
    rf"^(?:un-?remind|stop\s+reminding\s+me\s+(?:about|of|to))\s+{REF}$",
]
_UNREPEAT = [
    rf"^(?:stop|quit|end)\s+(?:repeating|recurring)\s+{REF}$",
    rf"^(?:make|set)\s+{REF}\s+(?:not\s+repeat(?:ing)?|one-?off|a\s+one-?(?:time|off)(?:\s+task)?|non-?recurring|"
    r"not\s+recurring)$",
    rf"^{REF}\s+(?:should|must|shouldn'?t)\s+(?:not\s+|no\s+longer\s+)?(?:repeat|recur)(?:\s+any\s?more)?$",
    rf"^(?:don'?t|do\s+not)\s+repeat\s+{REF}(?:\s+any\s?more)?$",
    rf"^(?:cancel|remove|stop|end|turn\s+off|delete|clear)\s+(?:the\s+)?(?:recurrence|repeat(?:ing)?|"
    rf"repetition|series|repeats?)\s+(?:of|on|for|from)\s+{REF}$",
    rf"^{REF}\s+(?:doesn'?t|does\s+not|don'?t|do\s+not|no\s+longer|won'?t|shouldn'?t)\s+(?:need\s+to\s+)?(?:repeat|recur)"
    r"(?:\s+any\s?more)?$",
]
_REPEAT = [
    rf"^(?:make|set)\s+{REF}\s+(?:repeat|recur)\s+(.+)$",
    rf"^(?:repeat|recur)\s+{REF}\s+((?:every|each|on|daily|weekly|monthly|yearly)\b.*)$",
    rf"^{REF}\s+(?:should\s+|must\s+)?(?:repeats?|recurs?|happens?|is\s+due)\s+((?:every|each|on|daily|weekly|"
    r"monthly|yearly)\b.*)$",
    rf"^(?:make|set)\s+{REF}\s+((?:daily|weekly|monthly|yearly|fortnightly)(?:\s+.*)?)$",
]
_REMINDERS = re.compile(
    r"^(?:what|which|show|list|any|do\s+i\s+have\s+any|are\s+there\s+any|give\s+me|see|view|"
    r"check)\b.*\breminders?\b|^(?:my\s+)?reminders$|^what\s+(?:am\s+i|"
    r"will\s+you)\s+(?:being\s+)?remind(?:ed|ing)?\b",
    re.I,
)


_MINUTES = {"minute": 1, "min": 1, "hour": 60, "hr": 60, "day": 1440, "week": 10080}


def minutes(amount: str) -> int:
    """'an hour' -> 60, '30 minutes' -> 30, 'a day' -> 1440."""
    m = re.match(rf"({_AMOUNT})\s+(minute|min|hour|hr|day|week)", amount, re.I)
    if not m:
        raise ValueError(amount)
    word = re.sub(r"\s+", " ", m.group(1).lower())
    count = {"half an": 0.5, "a couple of": 2, "a few": 3, "a": 1, "an": 1, "one": 1}.get(word)
    return int((count or _count(word)) * _MINUTES[m.group(2).lower()])


def parse_reminder_change(text: Text, clause: str) -> list[Intent] | None:
    """A reminder or repeat set on, or taken off, a task; or the question what reminders there are."""
    if _REMINDERS.search(clause) and not re.match(r"(?i)remind\s+me\b", clause):
        return [Intent("reminders")]
    for pattern, ref, amount in _REMIND_BEFORE:
        if m := re.match(pattern, clause, re.I):
            before = minutes(m.group(amount))
            return [Intent("update", remind_before=before, ref=parse_ref(text, trim_ref(m.group(ref))))]
    for pattern, ref, when in _MOVE_REMINDER:
        if m := re.match(pattern, clause, re.I):
            said = m.group(when)
            if not dates.PHRASE.fullmatch(said):  # "snooze it by an hour": later than it was
                said = "later " + ("" if said.lower().startswith("by ") else "by ") + said
            return [Intent("update", remind=said, ref=parse_ref(text, trim_ref(m.group(ref))))]
    for pattern in _UNREMIND:
        if m := re.match(pattern, clause, re.I):
            return [Intent("update", remind="", ref=parse_ref(text, trim_ref(m.group(1))))]
    for pattern in _UNREPEAT:
        if m := re.match(pattern, clause, re.I):
            return [Intent("update", repeat="", ref=parse_ref(text, trim_ref(m.group(1))))]
    for pattern in _REPEAT:
        if m := re.match(pattern, clause, re.I):
            _, rule, _ = take_repeat(m.group(2))
            if rule:
                return [Intent("update", repeat=rule, ref=parse_ref(text, trim_ref(m.group(1))))]
    if m := _REMIND_ABOUT.match(clause):
        rest, when = dates.strip(m.group(1))
        if when and rest and not re.match(r"(?i)to\s", rest):  # without a time it is an add
            return [Intent("remind", title=title_text(text, rest), remind=when, ref=parse_ref(text, rest))]
    return None
