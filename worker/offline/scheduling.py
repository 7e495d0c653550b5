"""The grammar of due dates on an existing task: "move the dentist to Thursday", "change the due date of
the report to Friday", "push the report back a day", "remove the due date from the report"."""

import re

from worker.offline.changes import REF, sep
from worker.offline.intents import Intent
from worker.offline.references import parse_ref, trim_ref
from worker.offline.text import Text

# A date or time said on its own ("Friday", "tomorrow at 5", "next week", "10am", "the 1st").
# (not "sun", "sat", "wed", "mon": words of their own)
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|tues?|weds|thu|thurs|fri)"
_DAY_PART = (
    r"(?:morning|afternoon|evening|night|noon|midday|midnight|tonight|lunch(?:time)?|eod|end of (?:the )?day)"
)
_CLOCK = r"(?:\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.|h)|\d{1,2}:\d\d|noon|midnight|midday)"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
WHEN_CORE = re.compile(
    rf"\b(?:today|tonight|tomorrow|tmrw?|yesterday|{_WEEKDAY}|weekend|{_DAY_PART}|{_CLOCK}|"
    rf"(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)(?:\s+of\s+{_MONTH})?|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?|"
    r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{4}-\d\d-\d\d|(?:next|this|the)\s+(?:week|month|year)|"
    r"end of (?:the |this |next )?(?:week|month|year)|(?:a|one|two|three|four|five|\d+)\s+(?:days?|weeks?|"
    r"months?|hours?|minutes?|mins?)(?:\s+(?:from now|later))?|an?\s+(?:hour|day|week|month)|"
    r"(?:the\s+)?day after tomorrow)\b",
    re.I,
)
_LEAD = r"(?:(?:by|before|until|till|due|on|this|next|coming|at|for|in|around|to|no later than)\s+)"
WHEN = re.compile(rf"\b{_LEAD}*(?:{WHEN_CORE.pattern})", re.I)


def is_when(phrase: str) -> bool:
    """The whole phrase is a date or time: 'Friday', 'to tomorrow at 5pm', 'next week instead'."""
    phrase = re.sub(r"\s+(?:instead|then|please)$", "", phrase.strip(" .!?,"), flags=re.I)
    rest = WHEN.sub(" ", phrase)
    return bool(WHEN.search(phrase)) and not re.sub(r"\b(?:at|on|and|the|,)\b|[\s,]", "", rest, flags=re.I)


def when_core(phrase: str) -> str | None:
    """'to Saturday instead' -> 'Saturday': the date itself, when the phrase is nothing else."""
    if not is_when(phrase):
        return None
    found = [m.group(0) for m in WHEN_CORE.finditer(phrase)]
    return " ".join(found) if len(found) == 1 else phrase.strip()


def has_deadline(phrase: str) -> bool:
    """'the report by Friday', 'the slides tomorrow': a date at the end of a task's words."""
    return bool(re.search(rf"(?:{WHEN.pattern})\s*$", phrase.strip(" .!?,"), re.I))


_DUE = r"(?:due\s+date|deadline|due\s+time|due\s+day|due|date|day|time)"
_SET = r"(?:change|set|update|move|push|shift|make|edit|modify|adjust|switch|put)"
_MOVE = (
    r"(?:reschedule|postpone|delay|defer|push(?:\s+back)?|move|shift|bump|bring\s+forward|put\s+off|"
    r"push\s+out|"
    r"carry\s+over|roll\s+over|snooze)"
)
_TO = sep("to", "for", "as", "until", "till")
_RESCHEDULE = [  # (pattern, the date must look like a date)
    (
        rf"^{_SET}\s+(?:the\s+)?{_DUE}\s+(?:of|for|on)\s+{REF}{sep('to', 'for', 'as', 'until', 'till')}(.+)$",
        False,
    ),
    (rf"^{_SET}\s+{REF}(?:'s|’s)\s+{_DUE}{sep('to', 'for', 'as', 'until', 'till')}(.+)$", False),
    (rf"^{_SET}\s+(?:the\s+)?{REF}\s+{_DUE}{sep('to', 'for', 'as')}(.+)$", True),
    (rf"^(?:the\s+)?{_DUE}\s+(?:of|for|on)\s+{REF}\s+(?:is|should be|will be|=|:)\s*(.+)$", False),
    (rf"^(?:make|set)\s+{REF}\s+due\s+(.+)$", False),
    (rf"^{REF}\s+(?:is|should be|will be|is now|must be)\s+due\s+(.+)$", False),
    (rf"^{_MOVE}\s+{REF}\s+(?:back\s+|forward\s+|out\s+)?(?:to|until|till|for|by|on|into)\s+(.+)$", True),
    (rf"^{_MOVE}\s+{REF}\s+((?:back|forward|out|ahead)\b.*)$", False),
    (rf"^{_MOVE}\s+{REF}\s+(.+)$", True),
]
_UNSCHEDULE = [
    rf"^(?:remove|clear|delete|drop|take\s+off|unset|get\s+rid\s+of|erase)\s+(?:the\s+)?{_DUE}\s+(?:of|from|"
    rf"for|on)\s+"
    rf"{REF}$",
    rf"^{REF}\s+(?:has|needs|should have)\s+no\s+{_DUE}$",
    rf"^(?:make|set)\s+{REF}\s+(?:not\s+due|undated)$",
]


def parse_reschedule(text: Text, clause: str) -> list[Intent] | None:
    for pattern in _UNSCHEDULE:
        if m := re.match(pattern, clause, re.I):
            return [Intent("reschedule", when="", ref=parse_ref(text, trim_ref(m.group(1))))]
    for pattern, dated in _RESCHEDULE:
        if (m := re.match(pattern, clause, re.I)) and (not dated or is_when(m.group(2))):
            return [Intent("reschedule", when=m.group(2).strip(), ref=parse_ref(text, trim_ref(m.group(1))))]
    return None
