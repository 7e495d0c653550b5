"""Intent recognition and slot extraction: one user message -> a list of intents."""

import re
from dataclasses import dataclass, field

QUOTED = re.compile(r"[\"“”‘’']([^\"“”‘’']{1,200})[\"“”‘’']")
ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "last": -1,
    "latest": -1,
}
PRONOUNS = {"it", "that", "this", "that one", "this one", "that task", "this task", "the task"}


@dataclass
class Ref:
    """A reference to one task: by id, by position in the last list, by pronoun, or by title words."""

    task_id: int | None = None
    ordinal: int | None = None
    pronoun: bool = False
    query: str = ""


@dataclass
class Intent:
    kind: str  # add | list | complete | delete | update | complete_all | delete_all | help | chat
    title: str | None = None
    description: str | None = None
    status: str = "all"
    ref: Ref = field(default_factory=Ref)


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _sentence_case(title: str) -> str:
    title = clean(title).strip(" .!?,;:")
    return title[:1].upper() + title[1:] if title else title


def parse_ref(phrase: str) -> Ref:
    phrase = clean(phrase).strip(" .!?,;:")
    if m := re.search(r"(?:task|item|todo|number|no\.?|#)\s*#?(\d+)\b", phrase, re.I) or re.fullmatch(
        r"#?(\d+)", phrase
    ):
        return Ref(task_id=int(m.group(1)))
    if m := QUOTED.search(phrase):
        return Ref(query=m.group(1))
    low = phrase.lower()
    if m := re.search(
        r"\b(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|latest)\b(?: one| task| item)?", low
    ):
        rest = re.sub(
            r"\b(the|one|task|item|on the list|in the list|from the list)\b", "", low.replace(m.group(0), "")
        )
        if not rest.strip(" .!?,"):
            return Ref(ordinal=ORDINALS[m.group(1)])
    stripped = re.sub(r"^(the|my|a|an)\s+", "", low)
    stripped = re.sub(r"\s+(task|todo|item|one|please)$", "", stripped).strip()
    if not stripped or stripped in PRONOUNS or low in PRONOUNS:
        return Ref(pronoun=True)
    return Ref(query=phrase)


_ADD_LEAD = re.compile(
    r"^(?:(?:hey|ok|okay|so|also|and|please|pls)[, ]+)*(?:(?:can|could|would|will) you(?: please)? |please )?"
    r"(?:add|create|make|put|new(?: task| todo| item)?\s*:|remind me (?:to|that|about)|i need to|i have to|i've got to|"
    r"i must|i should|don'?t let me forget(?: to)?|note(?: down)?|jot down|schedule|track)(?=\W|$)",
    re.I,
)
_ADD_FILLER = re.compile(
    r"^(?:(?:hey|ok|okay|so|also|and|please|pls)[, ]+)*(?:(?:can|could|would|will) you(?: please)? |please )?"
    r"(?:add|create|make|put|note(?: down)?|jot down|track)?\s*(?:(?:a|an|one|the|another|new|two|three|four|five|\d+)\s+)*"
    r"(?:new\s+)?(?:tasks?|todos?|to-dos?|items?|reminders?|things?)?\s*(?:called|named|titled|to|for|:|-)?\s*",
    re.I,
)
_LIST_TAIL = re.compile(
    r"\s*(?:to|on|onto|in|into)\s+(?:my|the)\s+(?:todo|to-do|task|tasks)?\s*list\b.*$", re.I
)
_DESCRIPTION = re.compile(
    r"(?:[.,;]?\s+with\s+(?:the\s+)?(?:description|details|notes?)\s*:?\s*|[.,;]\s*(?:description|details|notes?)\s*[:\-]\s*)(.+)$",
    re.I,
)


def _add_intents(text: str) -> list[Intent]:
    description = None
    if m := _DESCRIPTION.search(text):
        description = m.group(1).strip().strip("\"“”‘’'").strip()
        text = text[: m.start()]
    quoted = QUOTED.findall(text)
    if quoted:
        titles = quoted
    else:
        body = text
        for lead in (
            r"remind me (?:to|that|about)\s+",
            r"don'?t let me forget(?: to)?\s+",
            r"i (?:need|have|must|should|'ve got) to\s+",
            r"new(?: task| todo| item)?\s*:\s*",
        ):
            if m := re.search(lead, body, re.I):
                body = body[m.end() :]
                break
        else:
            body = _ADD_FILLER.sub("", body, count=1)
        body = _LIST_TAIL.sub("", body).strip(" ?.!")
        is_list = bool(
            re.search(
                r"\b(two|three|four|five|\d+|some|few|these|following)\s+(tasks|todos|items|things)\b|\btasks?\s*:",
                text,
                re.I,
            )
        )
        if "," in body or is_list:
            titles = [t for t in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", body) if t.strip()]
        else:
            titles = [body]
    return [
        Intent("add", title=_sentence_case(t), description=description if len(titles) == 1 else None)
        for t in titles
        if _sentence_case(t)
    ]


def _list_status(low: str) -> str:
    if re.search(
        r"\b(not (yet )?(done|finished|completed)|incomplete|unfinished|pending|left|remaining|outstanding|open|to ?do|plate|today|still)\b",
        low,
    ):
        return "pending"
    if re.search(r"\b(completed|finished|done|checked off|ticked off|accomplished)\b", low):
        return "completed"
    return "all"


def understand(message: str) -> list[Intent]:
    text = clean(message)
    low = text.lower().strip(" !.?")
    if not low:
        return [Intent("chat")]
    if re.search(r"\b(help|what can you do|what do you do|how do (i|you) use|commands)\b", low):
        return [Intent("help")]

    # Bulk changes
    if re.search(
        r"\b(mark|set|tick|check)\b.*\b(all|every|everything)\b.*\b(done|complete|completed|finished|off)\b|"
        r"\b(complete|finish)\s+(all|every|everything)\b",
        low,
    ):
        return [Intent("complete_all")]
    if m := re.search(r"\b(delete|remove|clear|get rid of|erase)\s+(all|every|everything)\b(.*)", low):
        status = "completed" if re.search(r"\b(completed|finished|done)\b", m.group(3)) else "all"
        return [Intent("delete_all", status=status)]
    if re.search(r"\b(clear|delete|remove)\s+(the\s+)?(completed|finished|done)\b", low):
        return [Intent("delete_all", status="completed")]

    if _ADD_LEAD.search(text):
        return _add_intents(text) or [Intent("chat")]

    # Update: rename/change X to Y, set/update the description of X to Y
    if m := re.search(
        r"\b(?:update|change|set|edit|modify)\s+(?:the\s+)?(?:description|details|notes?)\s+(?:of|for|on)\s+(.+?)\s+(?:to|as|:)\s+(.+)$",
        text,
        re.I,
    ):
        return [Intent("update", description=m.group(2).strip().strip("\"“”‘’'"), ref=parse_ref(m.group(1)))]
    if m := re.search(
        r"\b(?:rename|change|update|edit|modify|retitle|call)\s+(.+?)\s+(?:to|into|as)\s+(.+)$", text, re.I
    ):
        new_title = QUOTED.fullmatch(m.group(2).strip()) or None
        title = new_title.group(1) if new_title else m.group(2)
        return [
            Intent(
                "update",
                title=_sentence_case(title),
                ref=parse_ref(re.sub(r"^(?:the\s+)?title\s+of\s+", "", m.group(1), flags=re.I)),
            )
        ]

    # Delete
    if m := re.search(
        r"\b(?:delete|remove|cancel|drop|erase|scrap|trash|get rid of|forget about|never ?mind|cross out|take off)\s+(.+)$",
        text,
        re.I,
    ):
        target = re.sub(
            r"\s+(?:from|off)\s+(?:my|the)\s+(?:todo\s+|to-do\s+|task\s+)?list.*$", "", m.group(1), flags=re.I
        )
        return [Intent("delete", ref=parse_ref(_about(target)))]
    if re.fullmatch(r"(?:please\s+)?(?:delete|remove|cancel|drop)(?: it| that| this)?", low):
        return [Intent("delete", ref=Ref(pronoun=True))]

    # Questions about the list
    if re.match(r"^(what|which|show|list|how many|do i have|any|display|view|see)\b", low) and re.search(
        r"\b(tasks?|todos?|to-dos?|list|pending|left|remaining|plate|completed|finished|done|agenda|everything)\b",
        low,
    ):
        return [Intent("list", status=_list_status(low))]

    # Complete
    completion = (
        r"^(.+?)\s+(?:is|are|was|has been|have been)\s+(?:done|finished|completed|taken care of)\b",
        r"^(.+?)\s+(?:has|have)\s+been\s+\w+",
        r"\b(?:mark|set)\s+(.+?)\s+(?:as\s+)?(?:done|complete|completed|finished)\b",
        r"\b(?:check|tick|cross)\s+off\s+(.+)$",
        r"\b(?:check|tick|cross)\s+(.+?)\s+off\b",
        r"\b(?:complete|finish|close)\s+(.+)$",
        r"\b(?:i(?:'ve| have)?\s+)?(?:finished|completed|did|done with|am done with|'m done with)\s+(.+)$",
    )
    for pattern in completion:
        if m := re.search(pattern, text, re.I):
            return [Intent("complete", ref=parse_ref(_about(m.group(1))))]
    if re.search(r"\b(done|finished|completed)\b", low) and re.search(r"\b(it|that|this)\b", low):
        return [Intent("complete", ref=Ref(pronoun=True))]
    if re.match(r"^i\s+(\w+ed)\s+(.+)$", low):  # "I fed the cat", "I called mom"
        return [Intent("complete", ref=parse_ref(text.split(" ", 1)[1]))]

    # List
    if re.search(
        r"\b(show|list|what'?s|what is|what are|what do|display|see|view|tell me|give me|any)\b", low
    ) and re.search(
        r"\b(tasks?|todos?|to-dos?|list|pending|left|remaining|plate|completed|finished|done|agenda|everything)\b",
        low,
    ):
        return [Intent("list", status=_list_status(low))]
    if re.fullmatch(r"(my )?(tasks|todos|to-dos|list|todo list)", low):
        return [Intent("list")]
    return [Intent("chat")]


def _about(phrase: str) -> str:
    """'the task about skydiving' -> 'skydiving'."""
    phrase = re.sub(r",?\s*(?:please|now|already|too|as well)\s*[.!?]*$", "", phrase.strip(), flags=re.I)
    if m := re.search(r"\b(?:about|for|called|named|titled|regarding)\s+(.+)$", phrase, re.I):
        return m.group(1)
    return phrase
