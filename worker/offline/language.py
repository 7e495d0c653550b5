"""Intent recognition and slot extraction: one user message -> a list of intents.

A message is prepared first (`text`). It is then split into clauses when it holds several commands
("delete X and add Y"), and each clause is matched against a small grammar per intent (`clause`).
Slots keep the user's own words; matching them against the tasks is `resolve`'s job.
"""

import dataclasses
import functools
import re

from worker.offline.adding import ONE_TITLE
from worker.offline.clause import STARTER, parse_clause
from worker.offline.intents import Intent, Ref
from worker.offline.listing import SMALL_TALK
from worker.offline.references import topic
from worker.offline.text import POLITE_REQUEST, Text, strip_polite

_SEPARATOR = re.compile(
    r"\s*(?:;|[.!?](?=\s)|,?\s+and then\s+|,?\s+then\s+|,?\s+and\s+(?:also\s+)?|,?\s+but\s+|"
    r",\s+(?:also\s+)?)\s*",
    re.I,
)


def _clauses(masked: str) -> list[tuple[int, int]]:
    """Where a new command starts: 'delete the dentist task and add call the plumber'."""
    if ONE_TITLE.match(masked):
        return [(0, len(masked))]
    spans, start = [], 0
    for m in _SEPARATOR.finditer(masked):
        if STARTER.match(POLITE_REQUEST.sub("", masked[m.end() :])):  # "…, can you mark it done?"
            spans.append((start, m.start()))
            start = m.end()
    spans.append((start, len(masked)))
    return [(a, b) for a, b in spans if masked[a:b].strip(" .!?,;")]


# Asking for something politely is a request, even with a question mark: "can you delete task 3?"
_POLITE = re.compile(
    r"\b(?:(?:can|could|would|will)\s+(?:you|u)|would\s+you\s+mind|(?:can|could|may)\s+(?:i|we)|please|pls|"
    r"is\s+it\s+possible\s+(?:to|for\s+you\s+to)|(?:i|we)\s+(?:want|need|would\s+like|'d\s+like)\s+you\s+to|"
    r"why\s+don'?t\s+you|wondering\s+if\s+you\s+could|do\s+you\s+mind)\b",
    re.I,
)


def _asked(masked: str, start: int, end: int) -> bool:
    """Whether the sentence holding this clause is a question rather than a request."""
    before = re.split(r"[.!?;](?=\s)", masked[:start])[-1]
    after = re.split(r"(?<=[.!?;])(?=\s)", masked[end:])[0] if end < len(masked) else ""
    sentence = before + masked[start:end] + after
    return sentence.rstrip().endswith("?") and not _POLITE.search(before + masked[start:end])


def understand(message: str) -> list[Intent]:
    return list(_understood(message))


# A pure function of the text, and the model reads the same message on every call of a turn (two or more):
# parsed once. Intents are never changed in place (`dataclasses.replace` makes new ones).
@functools.lru_cache(maxsize=1024)
def _understood(message: str) -> tuple[Intent, ...]:
    return tuple(_parse_message(message))


def _parse_message(message: str) -> list[Intent]:
    text = Text(message)
    if not text.masked.strip(" .!?"):
        return [Intent("chat")]
    groups: list[tuple[int, int, list[Intent]]] = []
    for a, b in _clauses(text.masked):
        asked = _asked(text.masked, a, b)
        parsed = parse_clause(text, text.masked[a:b], asked=asked)
        if groups and (
            (parsed[0].kind in ("chat", "help") and not parsed[0].mood)
            or parsed[0].guessed
            or _is_description_tail(text.masked[a:b])
        ):
            # not a command of its own after all: it belongs to the clause before
            start = groups[-1][0]
            groups[-1] = (start, b, parse_clause(text, text.masked[start:b], asked=asked))
            continue
        if groups and parsed[0].ref.pronoun and parsed[0].kind == groups[-1][2][-1].kind:
            continue  # "the lunch got cancelled, remove it": the same request said twice
        named = groups[-1][2][-1].ref if groups else Ref()
        if parsed[0].ref.pronoun and named.query and groups[-1][2][-1].mood:
            # "don't complete the report, delete it instead": "it" is the task just named, not acted on
            parsed = [dataclasses.replace(i, ref=named) if i.ref.pronoun else i for i in parsed]
        before = strip_polite(text.masked[groups[-1][0] : groups[-1][1]]) if groups else ""
        if (
            groups
            and parsed[0].ref.pronoun
            and groups[-1][2] == [Intent("chat")]
            and len(before.split()) >= 2
            and not SMALL_TALK.match(before)
            and not re.match(r"(?i)never ?mind|forget it|no\b|oops|wait", before)
        ):
            # "the bathroom is sparkling clean, mark it done": "it" is what the sentence before was about
            about = Ref(query=topic(text.unmask(before)))
            groups[-1] = (groups[-1][0], b, [dataclasses.replace(i, ref=about) for i in parsed])
            continue
        groups.append((a, b, parsed))
    intents = [i for _, _, group in groups for i in group]
    if len(intents) > 1:
        intents = [i for i in intents if i.kind != "chat"] or [Intent("chat")]
    return intents


def _is_description_tail(piece: str) -> bool:
    return bool(
        re.match(
            r"^(?:also\s+)?(?:set|add|give it|with)\s+(?:its|the|a)\s+(?:description|notes?|details)",
            piece,
            re.I,
        )
    )
