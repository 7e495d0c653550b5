"""Task references: ids, positions in the last list, pronouns, or the words of a title."""

import re

from worker.offline.intents import Ref
from worker.offline.text import MASK, Text, clean
from worker.offline.vocabulary import NUMBERS, ORDINAL_WORDS, ORDINALS

PRONOUN = re.compile(
    r"(?:it|its|that|this|that one|this one|the one|that task|this task|the task|that item|this item|"
    r"that todo|the same(?: one| task)?|the (?:new|latest|last|newest) (?:one|task)|(?:the )?(?:one|task|"
    r"thing) (?:i|you|we) just (?:added|created|made|mentioned|did|finished|completed|changed|renamed|"
    r"updated)|what i just added|the above|said task)",
    re.I,
)
PLURAL = re.compile(
    r"(?:them|those|these|both|both of them|all of them|them all|them both|all three|all those|all these|"
    r"those (?:tasks|ones|items)|these (?:tasks|ones|items)|the two|the three|all (?:of )?(?:those|these))",
    re.I,
)
_IDS = re.compile(
    r"(?:\b(?:tasks?|items?|to-?dos?|numbers?|nos?\.?|ids?)\s*#?\s*|#\s*)(\d+)\b((?:\s*(?:,|and|&|"
    r"or)\s*(?:(?:tasks?|items?|numbers?|nos?\.?|ids?)\s*)?#?\s*\d+\b)*)",
    re.I,
)


def parse_refs(text: Text, phrase: str) -> list[Ref]:
    """One reference, or several for "tasks 3 and 5"."""
    phrase = clean(phrase).strip(" .!?,;:")
    if m := _IDS.search(phrase):
        return [Ref(task_id=int(n)) for n in re.findall(r"\d+", m.group(1) + " " + m.group(2))]
    if re.fullmatch(r"#?\d+(?:\s*(?:,|and|&)\s*#?\d+)*", phrase):
        return [Ref(task_id=int(n)) for n in re.findall(r"\d+", phrase)]
    if re.fullmatch(r"\ue000\d+\ue001(?:\s*(?:,|and|&)\s*\ue000\d+\ue001)+", phrase):  # 'a' and 'b'
        return [Ref(query=text.quotes[int(n)]) for n in MASK.findall(phrase)]
    low = phrase.lower()
    if m := re.fullmatch(
        r"(?:the\s+)?(first|last|top|bottom)\s+(two|three|four|five|[2-9])(?:\s+(?:ones|tasks|items|todos))?",
        low,
    ):
        count = NUMBERS[m.group(2)]
        positions = range(1, count + 1) if m.group(1) in ("first", "top") else range(-count, 0)
        return [Ref(ordinal=n) for n in positions]
    parts = re.split(r"\s*(?:,|\band\b|&)\s*", phrase)
    if len(parts) > 1:  # "the first and the third one"
        refs = [parse_ref(text, p) for p in parts if p.strip()]
        if refs and all(r.ordinal is not None for r in refs):
            return refs
    return [parse_ref(text, phrase)]


def parse_ref(text: Text, phrase: str) -> Ref:
    phrase = clean(phrase).strip(" .!?,;:")
    if m := _IDS.search(phrase):
        return Ref(task_id=int(m.group(1)))
    if re.fullmatch(r"#?\d+", phrase):
        return Ref(task_id=int(phrase.lstrip("#")))
    if m := MASK.search(phrase):
        return Ref(query=text.quotes[int(m.group(1))])
    low = phrase.lower()
    low = (
        re.sub(r"^(?:the|my|a|an|that|this|those|these)\s+(?=.)", "", low)
        if not PRONOUN.fullmatch(low)
        else low
    )
    low = re.sub(r"\s+(?:as well|too|also|again|for me|for now)$", "", low)
    if m := re.fullmatch(
        rf"(?:the\s+)?({ORDINAL_WORDS})(?:\s+(?:one|task|item|todo|thing|entry)s?)?"
        r"(?:\s+(?:on|in|from|of)\s+(?:the|my|that|this)\s+(?:list|tasks|todos))?",
        low,
    ):
        return Ref(ordinal=ORDINALS[m.group(1)])
    if PLURAL.fullmatch(low):
        return Ref(plural=True)
    if re.fullmatch(
        r"(?:the\s+)?(?:last|latest|newest|most recent|new)\s+(?:one|task|item|todo|"
        r"thing)?\s*(?:(?:that\s+)?(?:i|you|we)\s+(?:just\s+)?(?:added|created|made|put in))?|"
        r"(?:the\s+)?(?:one|task|item|thing)\s+(?:i|you|we)\s+(?:added|created)(?:\s+last)?",
        low,
    ) and re.search(r"\b(?:added|created|made|put in|newest|most recent)\b", low):
        return Ref(newest=True)
    if not low or PRONOUN.fullmatch(low) or low in {"one", "task", "item", "thing", "todo", "entry"}:
        return Ref(pronoun=True)
    return Ref(query=topic(text.unmask(phrase)))


def topic(phrase: str) -> str:
    """'the task about skydiving' -> 'skydiving'; 'the gym task' -> 'gym'; 'the one for mom' -> 'mom'."""
    phrase = clean(phrase).strip(" .!?,;:")
    phrase = re.sub(r"^(?:the|my|a|an|that|this)\s+", "", phrase, flags=re.I)
    if m := re.match(
        r"^(?:(?:task|todo|to-do|item|one|reminder|entry|thing)s?\s+)?(?:about|for|called|named|titled|"
        r"regarding|re|on|that says|saying|with|to)\s+(.+)$",
        phrase,
        re.I,
    ):
        if m.group(0).lower() != phrase.lower() or re.match(
            r"^(?:task|todo|to-do|item|one|reminder)", phrase, re.I
        ):
            phrase = m.group(1)
    phrase = re.sub(r"^(?:the|my|a|an)\s+", "", phrase, flags=re.I)
    phrase = re.sub(r"\s+(?:task|todo|to-do|item|one|reminder|entry|thing)s?$", "", phrase, flags=re.I)
    return phrase.strip() or phrase


def trim_ref(phrase: str, *, done_words: bool = False) -> str:
    """Drop what follows a task reference: "please", "off my list", a reason; for completions "as done"."""
    phrase = re.sub(
        r"\s*(?:,\s*|\s+)(?:because|since|cause|cuz)\b.*$|,\s*(?:i|it|it's|that's|we|they)\b.*$",
        "",
        phrase,
        flags=re.I,
    )
    phrase = re.sub(
        r"(?:[,.!]?\s*(?:please|now|already|too|as well|today|yesterday|finally|at last|just now|instead|"
        r"this morning|earlier|for good|yay|woohoo)(?!\w)|!+)+$",
        "",
        phrase.strip(),
        flags=re.I,
    )
    phrase = re.sub(
        r"\s+(?:off|from|out of)\s+(?:my|the)\s+(?:(?:todo|to-do|task)\s+)?(?:list|tasks)$",
        "",
        phrase,
        flags=re.I,
    )
    if done_words:
        phrase = re.sub(r"\s+(?:as\s+)?(?:done|complete|completed|finished)$", "", phrase, flags=re.I)
    return phrase.strip(" ,.!?")
