"""The conversation as the model sees it: the input items split into the earlier turns and the current
turn's message and tool calls, and what the earlier turns' tool calls say about the tasks."""

import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.parser import isoparse

Call = tuple[str, dict[str, Any], Any]  # tool name, arguments, result (a dict, or an error's text)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _parse_output(output: Any) -> Any:
    text = _text(output)
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text  # a tool error's message


def _arguments(item: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(item.get("arguments") or "{}")
    except ValueError:
        return {}


_NOW = re.compile(r"Current time: (\S+) \((\w+)\) in time zone (\S+)\.")


def now_from(instructions: Any) -> datetime:
    """'Current time: 2026-12-03T09:15:00+01:00 (Thursday) in time zone Europe/Berlin.' -> that moment in that
    zone; the current UTC time without such a line."""
    if isinstance(instructions, str) and (m := _NOW.search(instructions)):
        try:
            return isoparse(m.group(1)).astimezone(ZoneInfo(m.group(3)))
        except (ValueError, KeyError):
            pass
    return datetime.now(UTC)


class Turn:
    """The input split into the earlier conversation and the current turn's message and tool calls."""

    def __init__(self, items: list[Any], instructions: Any = None) -> None:
        items = [i if isinstance(i, dict) else i.model_dump() for i in items]
        start = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=-1)
        self.message = _text(items[start].get("content")) if start >= 0 else ""
        turns: list[dict[str, Any]] = []
        calls: dict[str, list[Any]] = {}
        order: list[list[Any]] = []
        for n, item in enumerate(items):
            if n == start:
                turns.append({"user": self.message, "answer": "", "calls": []})
                order = []
                continue
            if item.get("role") == "user":
                turns.append({"user": _text(item.get("content")), "answer": "", "calls": []})
                order = []
            elif item.get("role") == "assistant" and turns:
                turns[-1]["answer"] = _text(item.get("content"))
            elif item.get("type") == "function_call":
                entry = [item["name"], _arguments(item), None]
                calls[item["call_id"]] = entry
                order.append(entry)
                if turns:
                    turns[-1]["calls"] = order
            elif item.get("type") == "function_call_output" and item.get("call_id") in calls:
                calls[item["call_id"]][2] = _parse_output(item.get("output"))
        current = turns.pop() if turns and start >= 0 else {"calls": []}
        self.calls: list[Call] = [tuple(c) for c in current["calls"]]  # type: ignore[misc]
        self.context = ConversationContext.from_turns(
            [{**t, "calls": [tuple(c) for c in t["calls"]]} for t in turns]
        )
        self.context.now = now_from(instructions)


class ConversationContext:
    """What earlier turns said about tasks, read from the tool calls in the rebuilt history."""

    def __init__(self) -> None:
        self.last_group: list[dict[str, Any]] = []  # the tasks last shown, or several touched at once
        self.last_touched: dict[str, Any] | None = None
        self.deleted: set[int] = set()
        self.last_actions: list[Call] = []  # the latest turn that changed tasks
        self.previous_user: str = ""
        self.previous_answer: str = ""
        self.snapshot: dict[int, dict[str, Any]] = {}  # tasks as last seen, by id
        self.previous_calls: list[Call] = []  # the tool calls of the turn before this one
        self.now = datetime.now(UTC)  # in the user's zone, from the system instructions

    @classmethod
    def from_turns(cls, turns: list[dict[str, Any]]) -> "ConversationContext":
        """turns: [{"user": str, "answer": str, "calls": [(name, arguments, result)]}] oldest first."""
        ctx = cls()
        for turn in turns:
            ctx.add_turn(turn["calls"])
            ctx.previous_user, ctx.previous_answer = turn["user"], turn["answer"]
            ctx.previous_calls = list(turn["calls"])
        return ctx

    def add_turn(self, calls: list[Call]) -> None:
        touched: list[dict[str, Any]] = []
        listed: list[dict[str, Any]] | None = None
        for name, _, result in calls:
            if not isinstance(result, dict):
                continue
            if name == "list_tasks":
                listed = result.get("tasks", [])
                for t in listed:
                    self.snapshot[t["id"]] = t
            elif "id" in result:
                if name == "delete_task":
                    self.deleted.add(result["id"])
                    self.snapshot.pop(result["id"], None)
                else:
                    self.snapshot[result["id"]] = result
                touched.append(result)
        if touched:
            self.last_touched = touched[-1]
            self.last_actions = [(n, a, r) for n, a, r in calls if n != "list_tasks"]
            if len(touched) > 1:
                self.last_group = touched
        if listed is not None and not touched:
            self.last_group = listed
            if len(listed) == 1:
                self.last_touched = listed[0]

    def group(self) -> list[dict[str, Any]]:
        return [t for t in self.last_group if t["id"] not in self.deleted]
