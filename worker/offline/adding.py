"""The grammar of adding: "add X", "remind me to X", "I need to X", several titles, a description."""

import re

from worker.offline import dates
from worker.offline.attributes import take_priority, take_tags
from worker.offline.intents import Intent
from worker.offline.reminders import take_repeat
from worker.offline.text import MASK, Text, slot_text, title_text
from worker.offline.vocabulary import TASK_VERBS

# "add a task: <anything>" takes the rest of the message as one title, whatever it holds
ONE_TITLE = re.compile(
    r"^(?:\W*(?:please|pls|ok|okay|hey)\W+)?(?:add|create|new)(?:\s+(?:a|one|new))*\s+(?:task|todo|to-do|"
    r"item)\s*:",
    re.I,
)


NEED_TO = (
    r"(?:i\s+)?(?:really\s+|still\s+|also\s+)?(?:need to|have to|'ve got to|ve got to|have got to|got to|"
    r"gotta|must|should|ought to|'ll need to|will need to|'ll have to|will have to)"
)
ADD_LEAD = re.compile(
    r"^(?:(?:add|adding|create|jot(?: down)?|note down|put down|write down)\b(?!\s+(?:all|every))|"
    r"set\s+(?:a\s+|an\s+)?(?:new\s+)?reminder\b|(?:make|put|stick|pop|throw|insert|enter|log|save|record|"
    r"write down|note|set up|schedule|start)\s+(?:(?:a|an|the|another|one|new|this|these|two|three|"
    r"\d+)\s+)*(?:new\s+)?(?:tasks?|todos?|to-dos?|notes?|reminders?|entry|entries|items?)\b|(?:put|stick|"
    r"pop|throw|write|log|save|enter|insert)\b(?=.*\b(?:on|onto|to|in|into)\s+(?:my|"
    r"the)\s+(?:[\w-]+\s+)?(?:list|tasks|todos)\b)|new\s+(?:task|todo|to-do|item|reminder|entry)s?\b|"
    r"(?:task|todo|to-do|reminder|new|note)s?\s*[:\-–—]|(?:remind|ping|nudge|alert) me\b|i(?: want| need|"
    r" would like|'d like) a reminder\b|(?:please\s+)?remember(?: to| that)?\b|note that\b|"
    r"don'?t (?:let me )?forget\b|make sure (?:i|to)\b|help me remember\b|i (?:want|would like|'d like|"
    r"d like) to remember\b|" + NEED_TO + r"(?:\s|:))",
    re.I,
)
_ADD_FILLER = re.compile(
    r"^(?:(?:add|adding|create|make|put(?: down)?|stick|pop|throw|insert|enter|log|save|record|"
    r"jot(?: down)?|write down|note(?: down)?|write|set up|set|schedule|start)(?:\s*:\s*|\s+|$))?(?:(?:a|an|"
    r"one|the|another|new|some|two|three|four|five|six|several|few|couple of|these|following|this|quick|"
    r"\d+)\b\s*)*(?:(?:new\s+)?(?:tasks?|to-?dos?|to do|items?|reminders?|entry|entries|things?|"
    r"notes?)\b\s*){0,2}(?:(?:to|on|onto|in|into|for)\s+(?:my|the)\s+(?:(?:todo|to-do|"
    r"task)\s+)?list\s*)?(?:called|named|titled|that says|saying|reading|to|for|about|of|:|-|–|"
    r"—)?\s*(?:me\s+to\s+)?",
    re.I,
)
_REMIND_FILLER = re.compile(
    r"^(?:(?:remind|ping|nudge|alert) me|i(?: want| need| would like|'d like) a reminder|"
    r"(?:please\s+)?remember|don'?t (?:let me )?forget|make sure|help me remember|note that|i (?:want|"
    r"would like|'d like|d like) to remember)\s*(?:(?:to|that|about|of)\b|:)?\s*(?:i\s+(?:need to|have to|"
    r"must|should|gotta|'ve got to|ought to)\s+|i\s+|to\s+)?",
    re.I,
)
_LIST_TAIL = re.compile(
    r"\s*(?:(?:to|on|onto|in|into|for)\s+(?:my|the|our|your)\s+(?:(?:todo|to-do|to do|task|tasks|shopping|"
    r"reminders?|daily|weekly)\s+)*(?:[\w-]+\s+)?(?:list|tasks|todos|to-dos|reminders)|"
    r"as\s+(?:a\s+)?(?:new\s+)?(?:task|todo|to-do|reminder|item))(?=$|[\s,.;!?])",
    re.I,
)
_DESCRIPTION = [
    r"\s*(?:[,;.]\s*|\s+[-–—]\s*|\s+)(?:and\s+|plus\s+)?(?:with|having|incl(?:uding)?)\s+(?:a\s+|the\s+|"
    r"some\s+)?(?:description|desc|details?|notes?|comment)\s*(?::|of|saying|that says|reading|being|=|-|–|"
    r"—)?\s*",
    r"\s*(?:[,;.(]\s*|\s+[-–—]\s*|\s+)(?:description|desc|details?|notes?|comment)\s*(?::|=|-|–|—)\s*",
    r"\s*(?:[,;.]\s*|\s+)(?:and\s+)?(?:describe(?:d)?|describing)\s+(?:it|this|that)?\s*as\s+",
    r"\s*(?:[,;.]\s*|\s+)(?:and\s+)?(?:set|add|give it|put)\s+(?:the\s+|a\s+|its\s+)?(?:description|details|"
    r"notes?)\s*(?:to|as|of|:|saying)?\s*",
    # "call mom tomorrow, it is about her birthday party": a clause about the task describes it
    r"\s*(?:[,;]|\s+[-–—])\s*(?=(?:it(?:'s|\s+is|\s+was|\s+will\s+be|\s+needs|\s+has)|this\s+is|that(?:'s|"
    r"\s+is)|which\s+is|she|he|they|we\s+(?:need|have|are|want)|because|since|so\s+that|about|regarding|re:|"
    r"for\s+(?:her|his|their|my|our)\b))",
]
_COUNT = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|several|multiple|some|few|couple of|these|"
    r"the following|\d+)\s+(?:new\s+)?(?:tasks|todos|to-dos|items|things|reminders|entries)\b|\b(?:tasks|"
    r"todos|items|these|following)\s*:",
    re.I,
)


def _split_description(text: Text, body: str) -> tuple[str, str | None]:
    for pattern in _DESCRIPTION:
        if m := re.search(pattern + r"(.+?)\)?$", body, re.I):
            if m.start() > 0:
                return body[: m.start()], slot_text(text, m.group(1))
    # "add 'Gym': leg day", "add call mom (her birthday)": details after the title
    if m := re.search(r"(\ue000\d+\ue001)\s*[:\-–—]\s*([^\ue000]+)$|\S\s*(\(([^()]{2,})\))$", body):
        if m.group(1):
            return body[: m.end(1)], slot_text(text, m.group(2))
        return body[: m.start(3)], slot_text(text, m.group(4))
    return body, None


def starts_with_verb(phrase: str) -> bool:
    words = re.findall(r"[a-z']+", phrase.lower())
    return bool(words) and words[0] in TASK_VERBS


def _split_titles(body: str, listed: bool) -> list[str]:
    """'milk, eggs and bread' -> three; 'buy bread and butter' -> one; 'buy milk and walk the dog' -> two."""
    parts = [p for p in re.split(r"\s*(?:;|\n)\s*", body) if p.strip()]
    if len(parts) > 1:
        return [t for p in parts for t in _split_titles(p, listed)]
    body = re.sub(
        r"\s*,?\s*\b(?:and|&|plus)\s+(?:also\s+)?(?:another|one more|a second|a task|a todo|"
        r"one)\s+(?:(?:task|todo|one|reminder)\s+)?(?:to|for|called|:)\s+",
        ", ",
        body,
        flags=re.I,
    )
    body = re.sub(r"\s*,?\s*\band also\s+", ", ", body, flags=re.I)
    if "," in body:
        items = [i for i in re.split(r"\s*,\s*(?:and\s+|&\s+)?|\s+(?:and|&)\s+(?=[^,]*$)", body) if i.strip()]
        # "buy milk, eggs and bread": one verb for a list of things is one errand
        if not listed and starts_with_verb(items[0]) and not any(starts_with_verb(i) for i in items[1:]):
            if all(len(i.split()) <= 2 for i in items[1:]):
                return [body]
        return items
    halves = re.split(r"\s+(?:and|&)\s+", body)
    if len(halves) > 1 and (
        listed
        or all(starts_with_verb(h) and len(h.split()) >= 2 for h in halves)
        or all(MASK.fullmatch(h) for h in halves)
    ):
        return halves
    return [body]


# "remind me to call mom at 5pm": the date is also when to remind
_REMINDER = re.compile(
    r"^\s*(?:remind\s+me|ping\s+me|nudge\s+me|alert\s+me|(?:set|add|create)\s+(?:a\s+|"
    r"an\s+)?(?:new\s+)?reminder|i(?:\s+want|\s+need|\s+would\s+like|'d\s+like)\s+a\s+reminder|reminder\s*:)",
    re.I,
)


def _drop_lead(body: str) -> str:
    """ "remind me to X", "I need to X", "add a task called X" -> "X"."""
    if _REMIND_FILLER.match(body):
        return _REMIND_FILLER.sub("", body, count=1)
    if m := re.match(
        NEED_TO + r"[\s:;]+(?:really\s+|also\s+|definitely\s+|still\s+|probably\s+)*", body, re.I
    ):
        return re.sub(r"^(?:remember to|add|create|put)\s+", "", body[m.end() :], flags=re.I)
    body = re.sub(r"^(?:new|task|todo|to-do|reminder|note)s?\s*[:\-–—]\s*", "", body, flags=re.I)
    return _ADD_FILLER.sub("", body, count=1)


def parse_add(text: Text, clause: str, *, bare: bool = False) -> list[Intent]:
    """bare: the clause is the errand itself ("schedule a dentist appointment"), no "add" to drop.

    Besides titles: a description ("…, it is about her birthday party"), a priority ("urgent: …", "…, high
    priority"), tags ("#errands", "to my shopping list") and a due date ("tomorrow at 5pm") per title."""
    clause, priority = take_priority(clause)
    clause, tags = take_tags(clause)
    body, description = _split_description(text, clause)
    listed = bool(_COUNT.search(body))
    reminder = bool(_REMINDER.match(body))
    when = re.match(r"^((?:remind|ping|nudge|alert) me)\s+(.+?)\s+(to\s+.+)$", body, re.I)
    if when and (dates.PHRASE.fullmatch(when.group(2)) or take_repeat(when.group(2))[1]):
        body = f"{when.group(1)} {when.group(3)} {when.group(2)}"  # "remind me tomorrow to call mom"
    spoken = not bare and re.match(
        r"(?i)remind|remember|don'?t|make sure|help me|note that|i\b|need|have|gotta|must", body
    )
    if not bare:
        body = _drop_lead(body)
    body = re.sub(r"^(?:to|that i need to|that i have to|i need to)\s+", "", body.lstrip(" ;:"), flags=re.I)
    body = _LIST_TAIL.sub("", body).strip(" ,.!?:;")
    body = re.sub(r"\s+(?:for me|please|too|as well|to it|to that)$", "", body, flags=re.I)
    if (first := dates.PHRASE.match(body)) and re.match(r"\s+to\s", body[first.end() :]):
        body = (
            body[first.end() :].strip()[3:] + " " + first.group(0)
        )  # "a reminder for 3pm to call the school"
    body, more = take_priority(body)  # "urgent: fix the sink" once "add" is gone
    priority = priority or more
    body, repeat, hour = take_repeat(body)  # "water the plants every 3 days"
    shared = None  # "add for tomorrow: call grandma": a date before the title
    if (m := dates.PHRASE.match(body)) and body[m.end() :].lstrip().startswith(":"):
        shared, body = m.group(0), body[m.end() :].lstrip(" :")
    # "call the bank: ask about the rate": a title of a few words, then its details
    if (
        description is None
        and not listed
        and (m := re.fullmatch(r"(\S+(?:\s+\S+){1,6}?):\s+(\S.*\s.*)", body))
    ):
        body, description = m.group(1), slot_text(text, m.group(2))
    pieces = [body] if ONE_TITLE.match(clause) else _split_titles(body, listed)
    said = [title_text(text, t) for t in pieces]
    if spoken and (
        any(
            len(t.split()) < 2 and t.isascii() and not text.only_quote(p) and not (repeat or reminder)
            for t, p in zip(said, pieces, strict=False)
        )
        or re.search(r"(?i)\b(?:bye|goodbye|good night|see you|thanks|thank you)\b", clause)
    ):
        return [Intent("chat")]  # "I have to go, bye!", "remember me?": talk, not a task
    intents = []
    for piece in pieces:
        piece, day = (piece, None) if text.only_quote(piece) is not None else dates.strip(piece)
        title = title_text(text, piece)
        if title:
            when = day or shared or (f"at {hour}" if hour else None)
            remind = when if reminder and when and not repeat else None
            intents.append(
                Intent(
                    "add",
                    title=title,
                    when=when,
                    priority=priority,
                    tags=tags or None,
                    repeat=repeat,
                    remind=remind,
                )
            )
    if not intents:
        return [Intent("add")]  # nothing to add yet: ask for a title
    if len(intents) == 1:
        intents[0].description = description
    return intents
