"""Task resolution: match a reference against the user's tasks and the conversation so far."""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from worker.offline.language import Ref

STOPWORDS = {
    "the",
    "a",
    "an",
    "my",
    "to",
    "of",
    "for",
    "and",
    "with",
    "on",
    "in",
    "at",
    "task",
    "todo",
    "item",
    "one",
    "please",
    "about",
    "that",
    "this",
    "it",
    "i",
    "me",
    "is",
    "are",
    "was",
    "be",
    "been",
    "has",
    "have",
    "off",
    "up",
    "just",
    "so",
    "now",
    "all",
    "done",
    "finished",
    "completed",
    "called",
    "named",
}


def _stem(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS}


def score(query: str, title: str) -> float:
    q, t = words(query), words(title)
    if not q or not t:
        return 0.0
    overlap = sum(1.0 if w in t else max((_near(w, x) for x in t), default=0.0) for w in q)
    ratio = SequenceMatcher(None, query.lower(), title.lower()).ratio()
    return overlap / len(q) * 0.8 + ratio * 0.2


def _near(a: str, b: str) -> float:
    if len(a) < 4 or len(b) < 4:
        return 0.0
    if a.startswith(b) or b.startswith(a):
        return 0.8
    return 0.7 if SequenceMatcher(None, a, b).ratio() >= 0.8 else 0.0


@dataclass
class Resolution:
    task: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] | None = None  # several equally good matches: ask back
    task_id: int | None = None  # an explicit id; the tool says whether it exists


THRESHOLD = 0.45


def by_title(query: str, tasks: list[dict[str, Any]]) -> Resolution:
    if exact := [t for t in tasks if t["title"].strip().lower() == query.strip().lower()]:
        return Resolution(task=exact[0])
    scored = sorted(((score(query, t["title"]), t) for t in tasks), key=lambda st: -st[0])
    if not scored or scored[0][0] < THRESHOLD:
        return Resolution()
    best = [t for s, t in scored if s >= scored[0][0] - 0.05]
    if len(best) > 1:
        return Resolution(candidates=best)
    return Resolution(task=best[0])


def resolve(ref: Ref, *, tasks: list[dict[str, Any]] | None, context: "ConversationContext") -> Resolution:
    if ref.task_id is not None:
        return Resolution(task_id=ref.task_id)
    if ref.ordinal is not None:
        listed = context.last_listed
        if listed and -len(listed) <= (ref.ordinal - 1 if ref.ordinal > 0 else ref.ordinal) < len(listed):
            return Resolution(task=listed[ref.ordinal - 1 if ref.ordinal > 0 else ref.ordinal])
        return Resolution()
    if ref.pronoun:
        return Resolution(task=context.last_touched) if context.last_touched else Resolution()
    return by_title(ref.query, tasks or [])


class ConversationContext:
    """What earlier turns said about tasks, read from the tool calls in the rebuilt history."""

    def __init__(self, tool_results: list[tuple[str, Any]]) -> None:
        self.last_listed: list[dict[str, Any]] | None = None
        self.last_touched: dict[str, Any] | None = None
        for name, result in tool_results:
            if not isinstance(result, dict):
                continue
            if name == "list_tasks":
                self.last_listed = result.get("tasks", [])
                if len(self.last_listed) == 1:
                    self.last_touched = self.last_listed[0]
            elif "id" in result:
                self.last_touched = result
