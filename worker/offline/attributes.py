"""Priorities and tags: taken out of a new task's words ("urgent: fix the sink", "buy milk #errands",
"call the bank, high priority", "add eggs to my shopping list"), and the grammar of changing them on a
task ("make the report high priority", "tag it work", "remove the work tag from the report")."""

import re

from worker.offline import dates
from worker.offline.changes import REF
from worker.offline.intents import Intent
from worker.offline.references import parse_ref, trim_ref
from worker.offline.text import Text

_LEVELS = {
    "urgent": "urgent", "critical": "urgent", "asap": "urgent", "urgently": "urgent", "right away": "urgent",
    "immediately": "urgent", "top": "urgent", "highest": "urgent", "emergency": "urgent", "!!!": "urgent",
    "important": "high", "high": "high", "!!": "high",
    "low": "low", "lowest": "low", "not urgent": "low", "not important": "low",
    "normal": "normal", "medium": "normal", "regular": "normal", "no longer urgent": "normal",
}  # fmt: skip
_LEVEL = (
    r"(?:(?:very|really|super|quite)\s+)?(urgent|critical|important|emergency|not\s+urgent|not\s+important|"
    r"no\s+longer\s+urgent|(?:high|low|top|highest|lowest|normal|medium|regular)(?:[- ]priority|[- ]prio)?|"
    r"(?:priority|prio)\s*:?\s*(?:high|low|urgent|normal|medium)|asap|urgently|right\s+away|immediately|"
    r"!!!?)"
)


def level(words: str) -> str | None:
    """'high priority' -> 'high', 'not urgent' -> 'low', 'priority: urgent' -> 'urgent'."""
    w = re.sub(r"\s+", " ", words.lower()).strip(" :")
    w = re.sub(r"^(?:very|really|super|quite) ", "", w)
    w = re.sub(r"^(?:priority|prio) ?:? ?", "", w)
    w = re.sub(r"[- ](?:priority|prio)$", "", w)
    return _LEVELS.get(w)


_LEADING_PRIORITY = re.compile(rf"^{_LEVEL}\s*(?:[:!\-–—]\s*|\s+(?=\S))(?=\S)", re.I)
_TRAILING_PRIORITY = re.compile(
    r"\s*(?:[,;(\-–—]\s*|\s+)(?:(?:it'?s|it\s+is|this\s+is|make\s+it|mark\s+it(?:\s+as)?|set\s+(?:it\s+)?(?:as|to)|"
    rf"with|as|and\s+(?:it'?s|make\s+it|mark\s+it(?:\s+as)?))\s+)?(?:a\s+|an\s+)?{_LEVEL}(?:\s+priority)?\)?\s*$",
    re.I,
)
_PRIORITY_TASK = re.compile(
    rf"\b(a|an|one|another)\s+{_LEVEL}\s+(task|todo|to-do|reminder|item|thing)\b", re.I
)  # "add an urgent task to fix the sink"


def _before_date(pattern: re.Pattern[str], body: str) -> tuple[re.Match[str] | None, str, str]:
    """A trailing pattern, also when a date follows it: "… high priority next Friday"."""
    if m := pattern.search(body):
        return m, body, ""
    if (
        (day := dates.find(body))
        and not body[day.end() :].strip()
        and (m := pattern.search(body[: day.start()]))
    ):
        return m, body[: day.start()], " " + day.group(0)
    return None, body, ""


def take_priority(body: str) -> tuple[str, str | None]:
    """The words without a priority, and the priority said."""
    if m := _PRIORITY_TASK.search(body):
        article = "a" if m.group(1).lower() == "an" else m.group(1)
        return body[: m.start()] + f"{article} {m.group(3)}" + body[m.end() :], level(m.group(2))
    if (m := _LEADING_PRIORITY.match(body)) and (found := level(m.group(1))):
        if re.search(r"[:!\-–—]", m.group(0)) or found == "urgent":  # not "important meeting prep"
            return body[m.end() :], found
    m, head, day = _before_date(_TRAILING_PRIORITY, body)
    if m and m.start() > 0 and (found := level(m.group(1))):
        return head[: m.start()] + day, found
    return body, None


def leading_priority(clause: str) -> tuple[str, str] | None:
    """'urgent: fix the sink' -> ('fix the sink', 'urgent')."""
    if (m := _LEADING_PRIORITY.match(clause)) and (found := level(m.group(1))):
        if re.search(r"[:!\-–—]", m.group(0)) or found == "urgent":
            return clause[m.end() :], found
    return None


_HASHTAG = re.compile(r"(?<![\w#&])#([^\W\d_][\w-]{0,31})\b")
_WORDS = r"(#?[\w-]+(?:\s*(?:,|\band\b|&)\s*#?[\w-]+)*)"
_TRAILING_TAGS = re.compile(
    r"\s*[,;]?\s*(?:and\s+)?(?:(?:tag(?:ged)?|label(?:led|ed)?)\s+(?:it\s+)?(?:(?:as|with)\s+)?(?:the\s+)?"
    rf"(?:tags?\s+|labels?\s+)?|with\s+(?:the\s+)?(?:tags?|labels?)\s+){_WORDS}\s*$",
    re.I,
)
# "add eggs to my shopping list": a named list is a tag; the to-do list itself is not
_NAMED_LIST = re.compile(r"\b(?:to|on|onto|in|into)\s+(?:my|the|our)\s+([\w-]+)\s+list\b", re.I)
_NOT_A_LIST_NAME = {"todo", "to-do", "task", "tasks", "daily", "weekly", "main", "whole", "entire", "do"}


def split_words(words: str) -> list[str]:
    return [w.lstrip("#").lower() for w in re.split(r"\s*(?:,|\band\b|&)\s*|\s+", words) if w.strip("# ")]


def take_tags(body: str) -> tuple[str, list[str]]:
    """The words without their tags, and the tags: "#errands", "tagged work", "to my shopping list"."""
    tags: list[str] = []
    m, head, day = _before_date(_TRAILING_TAGS, body)
    if m and m.start() > 0:
        tags += split_words(m.group(1))
        body = head[: m.start()] + day
    if m := _NAMED_LIST.search(body):
        if m.group(1).lower() not in _NOT_A_LIST_NAME:
            tags.append(m.group(1).lower())
    while (m := re.search(r"(?:\s*" + _HASHTAG.pattern + r")+\s*$", body)) and m.start() > 0:
        tags += [t.lower() for t in _HASHTAG.findall(m.group(0))]  # "buy milk #errands #today"
        body = body[: m.start()]
    for m in reversed(list(_HASHTAG.finditer(body))):
        tags.append(m.group(1).lower())
        after = body[m.end() :].strip()
        if not after or dates.PHRASE.fullmatch(after):  # "fix the fence #home tomorrow"
            body = body[: m.start()].rstrip() + (" " + after if after else "")
        else:  # "buy #milk for the party": the word stays in the title
            body = body[: m.start()] + m.group(1) + body[m.end() :]
    return body.strip(), list(dict.fromkeys(tags))


# ---------------------------------------------------------------------------------------------
# Changing them on a task

_PRIORITY_UPDATE = [
    rf"^(?:set|change|make|update|put|move|bump)\s+(?:the\s+)?(?:priority|importance)\s+(?:of|for|"
    rf"on)\s+{REF}\s+(?:to|as|at)\s+{_LEVEL}$",
    rf"^(?:set|change|make|update)\s+{REF}(?:'s|’s)\s+priority\s+(?:to|as|at)\s+{_LEVEL}$",
    rf"^(?:make|mark|set|flag|put|change|move|bump|turn|switch)\s+{REF}\s+(?:as\s+|to\s+|at\s+)?(?:an?\s+)?{_LEVEL}"
    r"(?:\s+priority)?$",
    rf"^{REF}\s+(?:is|should\s+be|has\s+become|is\s+now|becomes)\s+(?:now\s+)?(?:an?\s+)?{_LEVEL}(?:\s+priority)?"
    r"(?:\s+now)?$",
]
_PRIORITY_VERB = [
    (rf"^(?:prioriti[sz]e|raise\s+(?:the\s+)?priority\s+(?:of|on|for))\s+{REF}$", "high"),
    (rf"^(?:de-?prioriti[sz]e|lower\s+(?:the\s+)?priority\s+(?:of|on|for))\s+{REF}$", "low"),
]
_GIVE = r"(?:add|put|give|attach|apply)\s+(?:the\s+|a\s+)?"
_DROP = r"(?:remove|delete|drop|take\s+off|clear|take)\s+(?:the\s+)?"
_TAG_UPDATE = [  # (pattern, reference group, words group, mode)
    (rf"^(?:tag|label)\s+{REF}\s+(?:as|with)\s+{_WORDS}$", 1, 2, "add"),
    (rf"^(?:tag|label)\s+(it|this|that|them|those|these)\s+{_WORDS}$", 1, 2, "add"),
    (rf"^(?:tag|label)\s+{REF}\s+(#?[\w-]+)$", 1, 2, "add"),
    (rf"^{_GIVE}(?:tags?|labels?)\s+{_WORDS}\s+(?:to|on)\s+{REF}$", 2, 1, "add"),
    (rf"^{_GIVE}(#?[\w-]+)\s+(?:tag|label)\s+(?:to|on)\s+{REF}$", 2, 1, "add"),
    (rf"^(?:add|put)\s+(#[\w-]+(?:\s*(?:,|and)\s*#[\w-]+)*)\s+(?:to|on)\s+{REF}$", 2, 1, "add"),
    (rf"^{_DROP}(#?[\w-]+)\s+(?:tag|label)\s+(?:from|on|off|of)\s+{REF}$", 2, 1, "remove"),
    (rf"^{_DROP}(#[\w-]+)\s+(?:from|off)\s+{REF}$", 2, 1, "remove"),
    (rf"^(?:untag|unlabel)\s+{REF}\s+(?:from\s+)?(#?[\w-]+)$", 1, 2, "remove"),
    (rf"^(?:set|change|replace)\s+(?:the\s+)?(?:tags|labels)\s+(?:of|on|for)\s+{REF}\s+(?:to|with)\s+{_WORDS}$",
     1, 2, "set"),
]  # fmt: skip
_UNTAG = [
    rf"^(?:untag|unlabel)\s+{REF}$",
    rf"^(?:remove|clear|delete|drop)\s+(?:all\s+)?(?:the\s+)?(?:tags|labels)\s+(?:from|on|of|off)\s+{REF}$",
]


def parse_attribute_change(text: Text, clause: str) -> list[Intent] | None:
    """A change of priority or tags on a task, or None."""
    for pattern in _PRIORITY_UPDATE:
        if (m := re.match(pattern, clause, re.I)) and (found := level(m.group(2))):
            return [Intent("update", priority=found, ref=parse_ref(text, trim_ref(m.group(1))))]
    for pattern, found in _PRIORITY_VERB:
        if m := re.match(pattern, clause, re.I):
            return [Intent("update", priority=found, ref=parse_ref(text, trim_ref(m.group(1))))]
    for pattern in _UNTAG:
        if m := re.match(pattern, clause, re.I):
            return [Intent("update", tags=[], tag_mode="set", ref=parse_ref(text, trim_ref(m.group(1))))]
    for pattern, ref, words, mode in _TAG_UPDATE:
        if m := re.match(pattern, clause, re.I):
            tags = split_words(m.group(words))
            return [Intent("update", tags=tags, tag_mode=mode, ref=parse_ref(text, trim_ref(m.group(ref))))]
    return None
