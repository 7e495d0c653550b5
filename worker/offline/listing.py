"""Listing ("what's left?"), help, small talk, and changes to many tasks at once ("clear my list")."""

import dataclasses
import re
from typing import Any

from worker.offline import dates
from worker.offline.attributes import level
from worker.offline.intents import Intent, Ref
from worker.offline.references import parse_refs, trim_ref
from worker.offline.text import Text, clean

_LIST_WORDS = re.compile(
    r"\b(?:tasks?|to-?dos?|to do|list|agenda|plate|pending|left|remaining|outstanding|open|incomplete|"
    r"unfinished|completed|finished|finish|complete|done|accomplished|checked off|ticked off|everything|"
    r"backlog|schedule|items|due|next|should i do|should i work on|overdue|late|urgent|important|priority|"
    r"tagged|labell?ed|coming up|upcoming|repeating|recurring|repeats)\b|#\w",
    re.I,
)
_LIST_START = re.compile(
    r"^(?:show|list|display|view|see|print|give|tell|pull up|bring up|fetch|check (?:my|what|the list)|what|"
    r"what's|whats|which|how many|how much|do i|did i|have i|is there|are there|anything|any|am i|where|"
    r"everything|all (?:my|the|of my)|my|sort|order|arrange|organi[sz]e|group|is anything|are any)\b",
    re.I,
)


def list_status(low: str) -> str:
    low = re.sub(r"\b(?:to-?do|to do)\s+(?:list|items?|tasks?)\b|\bto-?dos\b|\btodo\b(?!\s+list)", " ", low)
    low = re.sub(r"\b(?:done|finished|completed)\s+or\s+not\b|\bor not\b", " both ", low)
    low = re.sub(
        r"\b(?:not|n't|never)\s+(?:yet\s+|been\s+|all\s+)*(?:done|finished|completed|complete|checked off)\b",
        " undone ",
        low,
    )
    pending = re.search(
        r"\b(?:incomplete|unfinished|undone|pending|left|remaining|outstanding|open|still|to do|need to do|"
        r"have to do|got to do|yet to|next|upcoming|plate|due|active|should i|current|unchecked|haven'?t|"
        r"not checked)\b",
        low,
    )
    done = re.search(
        r"\b(?:completed|complete|finished|finish|done|checked off|ticked off|crossed off|accomplished|"
        r"achieved|closed|did i|have i (?:done|finished|completed)|got done|already)\b",
        low,
    )
    if re.search(r"\b(?:today|tonight|this week)\b", low) and not done:
        return "pending"  # "what's on my list today?": what is still to do
    if pending and done:
        return "all"
    return "pending" if pending else "completed" if done else "all"


_LIST_NOUN = re.compile(r"tasks|todos|to-dos|items|things|ones|lists|reminders|stuff")
_ONLY_TOPIC = re.compile(
    r"^(?:show|list|display|view|see|give)\s+(?:me\s+)?(?:all\s+)?(?:my|the)\s+([\w-]+s)$"
)


def is_list(low: str) -> bool:
    if (m := _ONLY_TOPIC.match(low)) and m.group(1) not in _NOT_TOPICS:
        return True  # "show my errands"
    if re.fullmatch(
        r"(?:(?:my|the|all|all my|all the|show|list)\s+)?(?:pending|completed|finished|open|remaining|"
        r"outstanding|done|unfinished|incomplete)?\s*(?:tasks|todos|to-dos|list|todo list|to-do list|"
        r"to do list|items|ones|stuff|everything|agenda)?",
        low,
    ) and low not in ("done", "finished", "completed"):
        return True
    if not _LIST_START.match(low):
        return False
    if not _LIST_WORDS.search(low) and not (
        re.match(r"(?:what|anything|any|do i)\b", low) and dates.find(low)
    ):
        return False  # "what's on for tomorrow?" is about the list, "what's the weather" is not
    # "what's the weather like today?" is not about the list; "what's left?" is
    return not re.search(r"\b(?:weather|time is it|date today|news|joke|score|capital|meaning|price)\b", low)


_NOT_TOPICS = set(
    """
    pending completed finished open remaining outstanding done unfinished incomplete due overdue urgent
    important todo other new old current all upcoming late next priority high low tagged today's tomorrow's
    week's own daily active repeating recurring
    """.split()
)
_SORTS = {"due": "due", "date": "due", "deadline": "due", "soonest": "due", "priority": "priority"}
_SORTS |= {"importance": "priority", "urgency": "priority", "urgent": "priority", "important": "priority"}


_PRIORITY = r"(?:urgent|important|high[- ]priority|low[- ]priority|top[- ]priority)"
_TAGGED = re.compile(
    r"#([\w-]+)|\b(?:tagged|labell?ed)\s+(?:with\s+|as\s+)?#?([\w-]+)|\b(?:with|under)\s+(?:the\s+)?(?:tag|"
    r"label)\s+#?([\w-]+)|\b([\w-]+)\s+(?:tag|label)\b"
)
_TOPIC = re.compile(
    r"\b(?:my|the|all)\s+(?!my\b|the\b|of\b)([\w-]+)\s+(?:tasks|todos|to-dos|items|stuff|errands|things)\b"
)


def list_filters(low: str) -> dict[str, Any]:
    """What a listing asks besides a status: "due this week", "overdue", "urgent", "#work", "by due date"."""
    f: dict[str, Any] = {}
    if m := re.search(
        r"\b(?:sort(?:ed)?|order(?:ed)?|arrange[d]?|organi[sz]ed?|list|show|"
        r"rank(?:ed)?)\b.*?\bby\s+(?:the\s+)?(due|date|deadline|priority|importance|urgency)|"
        r"\bin\s+order\s+of\s+(?:the\s+)?(due|date|deadline|priority|importance|urgency)|\b(soonest|"
        r"most\s+urgent|most\s+important)\s+first\b",
        low,
    ):
        f["sort"] = _SORTS[(m.group(1) or m.group(2) or m.group(3)).split()[-1]]
        low = low[: m.start()] + low[m.end() :]
    if re.search(r"\bwhat(?:'s| is)\s+(?:up\s+)?next\b|\bcoming up\b|\bupcoming\b", low):
        f.setdefault("sort", "due")
    if re.search(r"\b(?:repeating|recurring|repeats|recur)\b", low):
        f["repeating"] = (
            True  # "what's repeating?": only the answer is filtered; the tools have no such filter
        )
    if re.search(r"\b(?:overdue|late|past due|missed|behind)\b", low):
        f["overdue"] = True
    elif m := dates.find(low):
        phrase = re.sub(r"^due\s+", "", m.group(0))
        if lead := re.match(r"(before|by|until|till|no later than)\s+", phrase, re.I):
            f["before" if lead.group(1) == "before" else "until"] = phrase[lead.end() :]
        else:
            f["period"] = phrase
        if not re.search(r"\b(?:due|deadlines?|scheduled|planned)\b", low):
            f["loose"] = True  # "what's on my list today?": undated tasks count too
    if m := re.search(rf"\b{_PRIORITY}\b", low):
        f["priority"] = level(m.group(0))
    if m := _TAGGED.search(low):
        f["tag"] = next(g for g in m.groups() if g)
    elif (m := _TOPIC.search(low) or _ONLY_TOPIC.match(low)) and not _LIST_NOUN.fullmatch(m.group(1)):
        if m.group(1) not in _NOT_TOPICS and not dates.find(m.group(1)) and "priority" not in f:
            f["topic"] = m.group(1)
    return f


HELP = re.compile(
    r"\b(?:help|what can you do|what do you do|what are you able|how do (?:i|you) (?:use|add|delete|remove|"
    r"complete|mark|rename|change|update|list|see)|how does this work|commands|instructions|"
    r"what can i (?:say|ask)|how (?:can|should) i use)\b",
    re.I,
)
_ALL = r"(?:all|every|everything|both|the lot)"
_BULK_COMPLETE = [
    rf"^(?:mark|set|tick|check|cross|flag|make)\b.*\b{_ALL}\b.*\b(?:done|complete|completed|finished|off)\b",
    rf"^(?:complete|finish|tick off|check off|cross off|close)\s+(?:out\s+)?(?:of\s+)?{_ALL}\b",
    rf"^(?:i\s+|i've\s+|i'm\s+|i am\s+)?(?:have\s+|just\s+|all\s+)?(?:finished|completed|done|did|"
    rf"through)\s+(?:with\s+)?(?:it all|{_ALL}(?:\s+(?:of\s+(?:them|it|my \w+)|on (?:my|the) list))?|"
    rf"all (?:my|the) (?:tasks|todos|items|things))$",
    rf"^(?:{_ALL}(?:\s+(?:my|the|of my|of the|of them))?(?:\s+(?:tasks|todos|items|things))?)\s+(?:is|"
    rf"are)\s+(?:now\s+)?(?:done|finished|completed|complete)$",
]
_BULK_DELETE = [
    rf"^(?:delete|remove|clear|erase|wipe|get rid of|purge|trash|empty|reset|nuke|drop|scrap|bin|ditch|"
    rf"clean up|clean out|clear out)\b(?:\s+out)?\s+(?:of\s+)?{_ALL}\b(.*)$",
    r"^(?:clear|empty|wipe|reset|nuke|purge|clean)\s+(?:out\s+)?(?:off\s+)?(?:my|the)\s+(?:whole\s+|"
    r"entire\s+)?(?:(?:todo|to-do|to do|task)\s+)?(?:list|tasks|todos|to-dos)$",
    r"^(?:start (?:over|fresh|from scratch) with an empty list|wipe the slate clean)$",
    r"^(?:delete|remove|clear|erase|wipe|get rid of|purge|trash|clean up|clean out|clear out|archive|"
    r"drop)\s+(?:out\s+)?(?:all\s+)?(?:of\s+)?(?:the\s+|my\s+)?(completed|finished|done|checked off|"
    r"ticked off|old|pending|open|unfinished|incomplete)\s*(?:tasks|todos|to-dos|items|ones|stuff|things)?$",
]

SMALL_TALK = re.compile(
    r"^(?:hi|hello|hey|yo|hiya|howdy|good (?:morning|afternoon|evening|night)|thanks?|thank you|thx|ty|"
    r"cheers|bye|goodbye|see you|ok|okay|k|cool|great|nice|awesome|perfect|yes|no|yep|nope|sure|lol|haha|"
    r"wow|how are you|who are you|what are you)\b",
    re.I,
)


def parse_bulk(text: Text, low: str) -> Intent | None:
    keep: list[Ref] = []
    if m := re.search(
        r"\s*,?\s+(?:except(?: for)?|but(?: not)?|other than|apart from|besides|save for)\s+(.+?)$", low
    ):
        keep = parse_refs(text, trim_ref(m.group(1)))
        low = low[: m.start()] + (
            " done" if re.search(r"\b(?:done|complete|completed|finished)$", low) else ""
        )
    intent = _bulk_intent(text, low)
    return dataclasses.replace(intent, keep=keep) if intent else None


def _bulk_intent(text: Text, low: str) -> Intent | None:
    for pattern in _BULK_COMPLETE:
        if re.search(pattern, low):
            return Intent("complete_all", status="pending", ref=_bulk_scope(text, low))
    for pattern in _BULK_DELETE:
        if m := re.search(pattern, low):
            rest = m.group(1) if m.groups() else ""
            status = "all"
            if re.search(r"\b(?:completed|finished|done|checked off|ticked off|old)\b", rest or ""):
                status = "completed"
            elif re.search(r"\b(?:pending|open|unfinished|incomplete|not done)\b", rest or ""):
                status = "pending"
            return Intent("delete_all", status=status, ref=_bulk_scope(text, rest or ""))
    return None


def _bulk_scope(text: Text, rest: str) -> Ref:
    """'all of them' -> the tasks just shown; 'all the shopping tasks' -> the tasks about shopping."""
    if re.search(r"\b(?:them|those|these|of them|both)\b", rest):
        return Ref(plural=True)
    topic = re.sub(
        rf"\b(?:{_ALL}|my|the|of|from|on|in|off|out|list|to-?do|to do|tasks?|todos?|items?|things?|ones?|as|"
        r"done|complete|completed|finished|pending|open|unfinished|incomplete|checked|ticked|crossed|mark|"
        r"set|check|tick|cross|please|now|i|have|'ve|just|did|are|is|it|them|remaining|left|outstanding|"
        r"other|rest|current|existing|still|todo|open|active)\b",
        " ",
        rest,
    )
    topic = re.sub(r"\b(?:about|for|related to|regarding|with)\b|'\w+\b", " ", topic)
    topic = clean(re.sub(r"[^\w\s\ue000\ue001]|\b\w\b", " ", topic))
    return Ref(query=text.unmask(topic)) if topic else Ref()
