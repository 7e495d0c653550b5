"""The grammar of due dates on an existing task: "move the dentist to Thursday", "change the due date of
the report to Friday", "push the report back a day", "remove the due date from the report"."""

import re

from worker.offline import dates
from worker.offline.changes import REF, sep
from worker.offline.intents import Intent
from worker.offline.references import parse_ref, trim_ref
from worker.offline.text import Text

_LEADS = r"^(?:(?:due|by|before|until|till|on|for|from|at|to|no later than)\s+)+"


def is_when(phrase: str) -> bool:
    """The whole phrase is a date or time: 'Friday', 'to tomorrow at 5pm', 'next week instead'."""
    phrase = re.sub(r"\s+(?:instead|then|please)$", "", phrase.strip(" .!?,"), flags=re.I)
    phrase = re.sub(r"^to\s+", "", phrase, flags=re.I)
    return bool(dates.PHRASE.fullmatch(phrase))


def when_core(phrase: str) -> str:
    """'to Saturday instead' -> 'Saturday': the date without the words around it."""
    phrase = re.sub(r"\s+(?:instead|then|please)$", "", phrase.strip(" .!?,"), flags=re.I)
    return re.sub(_LEADS, "", phrase, flags=re.I).strip()


def has_deadline(phrase: str) -> bool:
    """'the report by Friday', 'the slides tomorrow': a date at the end of a task's words."""
    m = dates.find(phrase)
    return bool(m) and not phrase[m.end() :].strip(" .!?,")


def patched_title(old: str, new: str) -> str | None:
    """'Book a table for Friday' + 'Saturday instead' -> 'Book a table for Saturday', when the title holds
    exactly one date; None otherwise."""
    found = list(dates.PHRASE.finditer(old))
    if len(found) != 1 or not is_when(new):
        return None
    m = found[0]
    said = when_core(m.group(0))
    start = m.start() + m.group(0).lower().rindex(said.lower())
    return old[:start] + when_core(new) + old[start + len(said) :]


_DUE = r"(?:due\s+date|deadline|due\s+time|due\s+day|due|date|day|time)"
_SET = r"(?:change|set|update|move|push|shift|make|edit|modify|adjust|switch|put)"
_MOVE = (
    r"(?:reschedule|postpone|delay|defer|push(?:\s+back)?|move|shift|bump|bring\s+forward|put\s+off|"
    r"push\s+out|carry\s+over|roll\s+over|snooze)"
)
_TO = sep("to", "for", "as", "until", "till")
_LATER = r"(?:delay|postpone|push(?:\s+back)?|put\s+off|defer|bump|move\s+back)"
_SOONER = r"(?:bring|move|pull|shift)"
_RESCHEDULE = [  # (pattern, the date must look like a date)
    (rf"^{_LATER}\s+{REF}\s+(?:back\s+|out\s+)?(by\s+.+)$", False),  # "delay the dentist by a week"
    (rf"^{_SOONER}\s+{REF}\s+((?:forward|earlier|up|ahead)\s+by\s+.+)$", False),
    (
        rf"^{_SET}\s+(?:the\s+)?{_DUE}\s+(?:of|for|on)\s+{REF}{_TO}(.+)$",
        False,
    ),
    (rf"^{_SET}\s+{REF}(?:'s|’s)\s+{_DUE}{_TO}(.+)$", False),
    (rf"^{_SET}\s+(?:the\s+)?{REF}\s+{_DUE}{sep('to', 'for', 'as')}(.+)$", True),
    (rf"^(?:the\s+)?{_DUE}\s+(?:of|for|on)\s+{REF}\s+(?:is|should be|will be|=|:)\s*(.+)$", False),
    (rf"^(?:make|set)\s+{REF}\s+due\s+(.+)$", False),
    (rf"^{REF}\s+(?:is|should be|will be|is now|must be)\s+due\s+(.+)$", False),
    (rf"^{_MOVE}\s+{REF}\s+(?:back\s+|forward\s+|out\s+)?(?:to|until|till|for|by|on|into)\s+(.+)$", True),
    (rf"^{_MOVE}\s+{REF}\s+((?:back|forward|out|ahead)\b.*)$", False),
    (rf"^{_MOVE}\s+{REF}\s+(.+)$", True),
    (
        rf"^{REF}\s+(?:has\s+been|was|got|is|'s\s+been)\s+(?:moved|rescheduled|pushed(?:\s+back)?|postponed|changed|"
        r"shifted|delayed)\s+(?:to|until|till|for)\s+(.+)$",
        True,
    ),
]
_UNSCHEDULE = [
    rf"^(?:remove|clear|delete|drop|take\s+off|unset|get\s+rid\s+of|erase)\s+(?:the\s+)?{_DUE}\s+(?:of|from|"
    rf"for|on)\s+{REF}$",
    rf"^{REF}\s+(?:has|needs|should have)\s+no\s+{_DUE}$",
    rf"^(?:make|set)\s+{REF}\s+(?:not\s+due|undated)$",
]


# "What is due tomorrow?" asks about the list: a question word is no task to move.
_QUESTION_WORD = re.compile(
    r"(?:what|which|who|whatever|anything|something|everything|nothing|all|any|stuff)(?:\s+else)?$", re.I
)


def parse_reschedule(text: Text, clause: str) -> list[Intent] | None:
    for pattern in _UNSCHEDULE:
        if (m := re.match(pattern, clause, re.I)) and not _QUESTION_WORD.match(m.group(1)):
            return [Intent("reschedule", when="", ref=parse_ref(text, trim_ref(m.group(1))))]
    for pattern, dated in _RESCHEDULE:
        if (
            (m := re.match(pattern, clause, re.I))
            and (not dated or is_when(m.group(2)))
            and not _QUESTION_WORD.match(m.group(1))
        ):
            when = re.sub(r"^by\s+", "later by ", m.group(2).strip(), flags=re.I)  # "by a week": later
            return [Intent("reschedule", when=when, ref=parse_ref(text, trim_ref(m.group(1))))]
    return None
