"""Task resolution: match a reference against the user's tasks and the conversation so far."""

import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from worker.offline.conversation import ConversationContext
from worker.offline.intents import Ref
from worker.offline.vocabulary import IRREGULAR, TASK_VERBS

STOPWORDS = set(
    """
    the a an my our your his her their its to of for and or with on in at by from into onto about as
    task tasks todo todos to-do item items one ones thing things list reminder entry
    please that this these those it them they i me we you is are was were be been being has have had
    off up out just so now all done finished completed complete also already today yesterday finally
    called named titled again too very really some any both either something anything stuff
    """.split()
)
# Words that mean the same thing on a todo list (applied to titles and queries alike).
SYNONYMS = {
    "mum": "mom", "mother": "mom", "mommy": "mom", "mama": "mom", "father": "dad", "daddy": "dad",
    "papa": "dad", "doc": "doctor", "gp": "doctor", "appt": "appointment", "e-mail": "email",
    "bicycle": "bike", "garbage": "trash", "rubbish": "trash", "bins": "trash", "bin": "trash",
    "refrigerator": "fridge", "pics": "photo", "pictures": "photo", "picture": "photo", "photos": "photo",
    "kids": "kid", "children": "kid", "child": "kid", "bday": "birthday", "xmas": "christmas",
    "tv": "television", "mtg": "meeting", "hw": "homework", "groceries": "grocery", "vet": "vet",
    "veterinarian": "vet", "auto": "car", "phoned": "call", "phone": "call", "ring": "call", "rang": "call",
}  # fmt: skip


# What a word may add to a shorter one and still mean the same thing ("electric" -> "electricity").
SUFFIXES = set(
    "y ly er ers or ity ic ical al ation ion ions ment ments ness ful s es ing ed e ise ize ist".split()
)


def stem(word: str) -> str:
    word = word.lower()
    word = SYNONYMS.get(word, word)
    word = IRREGULAR.get(word, word)
    word = SYNONYMS.get(word, word)
    if not word.isascii() or len(word) <= 3:
        return word
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("sses", "ss"),
        ("shes", "sh"),
        ("ches", "ch"),
        ("xes", "x"),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            return word[: -len(suffix)] + repl
    for suffix in ("ing", "ed"):
        base = word[: -len(suffix)]
        if (
            word.endswith(suffix)
            and len(base) >= 3
            and re.search(r"[aeiouy]", base)
            and not word.endswith("eed")
        ):
            if len(base) >= 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # shopping -> shop
            return _drop_e(base)
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return _drop_e(word)


def _drop_e(word: str) -> str:
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _fold(text: str) -> str:
    """Lower case without accents: "Café" and "cafe" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Content words, normalized; CJK runs and other scripts stay whole, an emoji is a word."""
    out = []
    for w in re.findall(r"\w+(?:-\w+)?|[^\w\s]", _fold(text)):
        if not w[0].isalnum() and w[0] != "_":
            if unicodedata.category(w) == "So":
                out.append(w)
            continue
        if w in STOPWORDS or (len(w) == 1 and w.isascii() and not w.isdigit()):
            continue
        out.append(stem(w))
    return out


def _near(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not (a.isascii() and b.isascii()):  # other scripts: a word inside a longer run
        return 0.8 if len(a) >= 2 and len(b) >= 2 and (a in b or b in a) else 0.0
    short, long = sorted((a, b), key=len)
    if len(short) < 4:
        return 0.0
    if long.startswith(short) and long[len(short) :] in SUFFIXES:  # electric / electricity
        return 0.8
    if len(short) >= 5 and SequenceMatcher(None, a, b).ratio() >= 0.85:  # a typo: grocieries
        return 0.7
    return 0.0


@dataclass
class Match:
    task: dict[str, Any]
    score: float  # share of the query's words found in the task
    coverage: float  # share of the title's words the query names


def match(query: str, task: dict[str, Any]) -> Match:
    q = words(query)
    title = words(task["title"])
    description = words(task.get("description") or "")
    if not q:
        return Match(task, 0.0, 0.0)
    found = 0.0
    hit: set[str] = set()
    for w in dict.fromkeys(q):
        best, best_word = 0.0, None
        for t in title:
            if (s := _near(w, t)) > best:
                best, best_word = s, t
        if best_word:
            hit.add(best_word)
        if best < 0.6 and any(_near(w, d) >= 0.8 for d in description):
            best = 0.6
        found += best
    unique = list(dict.fromkeys(q))
    named = {w for w in title if w[0].isalnum()} or set(title)  # "🚗 service": the emoji is no word to say
    return Match(task, found / len(unique), len(hit & named) / len(named) if named else 0.0)


def _norm(title: str) -> str:
    return re.sub(r"\s+", " ", title).strip(" \"'“”‘’.!?,;:").lower()


THRESHOLD = 0.5


@dataclass
class Resolution:
    tasks: list[dict[str, Any]] = field(default_factory=list)  # the tasks meant (usually one)
    task_ids: list[int] = field(default_factory=list)  # explicit ids: the tool says whether they exist
    candidates: list[dict[str, Any]] = field(default_factory=list)  # equally good matches: ask back

    @property
    def targets(self) -> list[int]:
        return self.task_ids + [t["id"] for t in self.tasks]


def by_title(
    query: str, tasks: list[dict[str, Any]], *, prefer_pending: bool = False, strict: bool = False
) -> Resolution:
    """The task a phrase names: exact title first, then the best word match; a tie asks back.

    strict (before a change): a loose match (half the phrase's words, not the whole title) is a candidate
    to ask about, not a target."""
    exact = [t for t in tasks if _norm(t["title"]) == _norm(query)]
    if exact:
        return _pick(exact, prefer_pending)
    scored = sorted((match(query, t) for t in tasks), key=lambda m: (-m.score, -m.coverage))
    scored = [m for m in scored if m.score > 0]
    if not scored:
        return Resolution()
    top = scored[0]
    # A weaker match still counts when it is the only task sharing a real word with the phrase.
    if top.score < THRESHOLD and not (top.score >= 0.3 and len(scored) == 1):
        return Resolution()
    found = _best(query, scored, prefer_pending)
    if strict and len(found.tasks) == 1 and not _clear(query, found.tasks[0]):
        return Resolution(candidates=found.tasks)
    return found


def clear_matches(query: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every task the phrase clearly names, best first: "is buying milk on my list?"."""
    found = [m for m in (match(query, t) for t in tasks) if m.score >= THRESHOLD and _clear(query, m.task)]
    return [m.task for m in sorted(found, key=lambda m: (-m.score, -m.coverage))]


def _clear(query: str, task: dict[str, Any]) -> bool:
    m = match(query, task)
    if m.score >= 0.6 or m.coverage >= 0.99 or _norm(query) in _norm(task["title"]):
        return True
    # "got the groceries" for "Buy groceries": said in other verbs, but naming all the rest
    first, _, rest = query.strip().partition(" ")
    return bool(rest) and _is_verb(first) and match(rest, task).score >= 0.99


def _is_verb(word: str) -> bool:
    word = word.lower()
    return word in TASK_VERBS or word in IRREGULAR or (word.endswith("ed") and len(word) > 3)


def _best(query: str, scored: list[Match], prefer_pending: bool) -> Resolution:
    top = scored[0]
    best = [m for m in scored if m.score >= top.score - 0.1]
    if len(best) > 1:
        full = [m for m in best if m.coverage >= 0.99 and m.score >= 0.99]
        if len(full) == 1:
            return Resolution(tasks=[full[0].task])
        inside = [m for m in best if _norm(query) and _norm(query) in _norm(m.task["title"])]
        if len(inside) == 1:
            return Resolution(tasks=[inside[0].task])
        if top.score - best[1].score >= 0.1 - 1e-9:
            return Resolution(tasks=[top.task])
    return _pick([m.task for m in best], prefer_pending)


def _pick(tasks: list[dict[str, Any]], prefer_pending: bool) -> Resolution:
    if len(tasks) == 1:
        return Resolution(tasks=tasks)
    if prefer_pending:
        pending = [t for t in tasks if not t.get("completed")]
        if len(pending) == 1:
            return Resolution(tasks=pending)
    return Resolution(candidates=tasks)


def by_titles(
    query: str, tasks: list[dict[str, Any]], *, prefer_pending: bool = False, strict: bool = False
) -> Resolution:
    """'walk the dog and feed the cat' names two tasks; 'buy bread and butter' may name one."""
    whole = by_title(query, tasks, prefer_pending=prefer_pending, strict=strict)
    parts = [p for p in re.split(r"\s*(?:,|;|\band\b|&|\bplus\b)\s*", query, flags=re.I) if words(p)]
    if len(parts) < 2 or (whole.tasks and match(query, whole.tasks[0]).score >= 0.9):
        return whole
    found = [by_title(p, tasks, prefer_pending=prefer_pending, strict=strict) for p in parts]
    if all(len(f.tasks) == 1 for f in found):
        chosen = list({t["id"]: t for f in found for t in f.tasks}.values())
        if len(chosen) == len(parts):
            return Resolution(tasks=chosen)
    return whole


def resolve(
    ref: Ref,
    *,
    tasks: list[dict[str, Any]] | None,
    context: ConversationContext,
    prefer_pending: bool = False,
    strict: bool = False,
) -> Resolution:
    if ref.task_id is not None:
        return Resolution(task_ids=[ref.task_id])  # never a guess: the tool says whether it is the user's
    if ref.newest:
        added = [r for n, _, r in context.last_actions if n == "add_task" and isinstance(r, dict)]
        if added and added[-1]["id"] not in context.deleted:
            return Resolution(tasks=[added[-1]])
        return Resolution(tasks=[max(tasks, key=lambda t: t["id"])]) if tasks else Resolution()
    if ref.ordinal is not None:
        group = context.group() or tasks or []
        index = ref.ordinal - 1 if ref.ordinal > 0 else ref.ordinal
        return Resolution(tasks=[group[index]]) if -len(group) <= index < len(group) else Resolution()
    if ref.plural:
        group = context.group() or ([context.last_touched] if context.last_touched else [])
        return Resolution(tasks=group)
    if ref.pronoun:
        return Resolution(tasks=[context.last_touched]) if context.last_touched else Resolution()
    return by_titles(ref.query, tasks or [], prefer_pending=prefer_pending, strict=strict)
