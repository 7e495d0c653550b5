"""The offline model driven step by step like the Agents SDK drives it, against an in-memory double of
the task tools (the interface of /work/helpers/TOOLS-V2.md: due dates, priorities, tags, search,
reminders, repeats), with the history rebuilt the way `worker.history` rebuilds it. The corpus files
run here too, so that a miss shows up in a second rather than in the end-to-end run."""

import asyncio
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.parser import isoparse
from dateutil.rrule import rrulestr
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage

from taskchat.corpus import same_tasks, starting_arguments
from worker.offline import OfflineModel
from worker.offline.model import decide

CORPORA = sorted((Path(__file__).parents[1] / "eval").glob("*.jsonl"))
OTHER_TITLE = "OTHER-USER-SECRET plan"
PRIORITIES = ("low", "normal", "high", "urgent")


class Tools:
    """The task tools for one user in one time zone, with the tools' error texts."""

    def __init__(self, zone: str = "UTC") -> None:
        self.zone = ZoneInfo(zone)
        self.tasks: dict[int, dict[str, Any]] = {}
        self.next_id = 1000

    def now(self) -> datetime:
        return datetime.now(self.zone)

    def _moment(self, field: str, value: str) -> tuple[datetime, bool]:
        """(moment, all day): a plain date is that day (its end, for a due date); else a date-time."""
        if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            return datetime.combine(date.fromisoformat(value), time(23, 59, 59), self.zone), True
        try:
            at = isoparse(value)
        except ValueError:
            raise ValueError(f"{field}: {value!r} is not an ISO 8601 date") from None
        if at.tzinfo is None:
            raise ValueError(f"{field}: {value!r} has no UTC offset")
        return at.astimezone(self.zone), False

    def _set(self, task: dict[str, Any], fields: dict[str, Any]) -> None:
        if fields.get("due_at") is not None:
            if fields["due_at"] == "":
                task["due_at"], task["all_day"] = None, False
            else:
                task["due_at"], task["all_day"] = self._moment("due_at", fields["due_at"])
        if fields.get("priority") is not None:
            if fields["priority"] not in PRIORITIES:
                raise ValueError("priority must be one of low, normal, high, urgent")
            task["priority"] = fields["priority"]
        if fields.get("tags") is not None:
            tags = list(dict.fromkeys(t.strip().lstrip("#").lower() for t in fields["tags"]))
            if len(tags) > 10:
                raise ValueError("At most 10 tags")
            if any(not 1 <= len(t) <= 32 for t in tags):
                raise ValueError("A tag must be 1 to 32 characters")
            task["tags"] = tags
        if fields.get("repeat") is not None:
            if fields["repeat"] == "":
                task["repeat"] = None
            else:
                try:
                    rrulestr(fields["repeat"], dtstart=self.now())
                except ValueError:
                    raise ValueError(f"repeat: {fields['repeat']!r} is not a valid RRULE") from None
                task["repeat"] = fields["repeat"]
                if task["due_at"] is None:  # the first occurrence, from now
                    first = rrulestr(task["repeat"], dtstart=self.now()).after(self.now(), inc=True)
                    task["due_at"], task["all_day"] = first, False
        if fields.get("remind_at") is not None:
            if fields["remind_at"] == "":
                task["remind_at"] = None
            else:
                at, _ = self._moment("remind_at", fields["remind_at"])
                if at <= self.now():
                    raise ValueError("Reminder time is in the past")
                task["remind_at"] = at
        if fields.get("remind_before_minutes") is not None:
            if task["due_at"] is None or task["all_day"]:
                raise ValueError("remind_before_minutes needs a task with a due time")
            task["remind_at"] = task["due_at"] - timedelta(minutes=fields["remind_before_minutes"])

    def _public(self, task: dict[str, Any]) -> dict[str, Any]:
        out = dict(task)
        for key in ("due_at", "remind_at", "completed_at"):
            out[key] = task[key].isoformat() if task[key] else None
        out["tags"] = list(task["tags"])
        return out

    def add_task(self, title: str, description: str | None = None, **fields: Any) -> dict[str, Any]:
        if not title.strip():
            raise ValueError("Title must not be empty.")
        self.next_id += 1
        task = {
            "id": self.next_id, "title": title.strip(), "description": description, "completed": False,
            "completed_at": None, "due_at": None, "all_day": False, "priority": "normal", "tags": [],
            "remind_at": None, "repeat": None,
        }  # fmt: skip
        self._set(task, fields)
        self.tasks[task["id"]] = task
        return self._public(task)

    def list_tasks(
        self,
        status: str = "all",
        due_before: str | None = None,
        due_after: str | None = None,
        overdue: bool | None = None,
        priority: str | None = None,
        tag: str | None = None,
        query: str | None = None,
        sort: str = "created",
        limit: int = 100,
    ) -> dict[str, Any]:
        def start(field: str, value: str) -> datetime:
            at, day = self._moment(field, value)
            return at.replace(hour=0, minute=0, second=0) if day else at

        tasks = [
            t for t in self.tasks.values() if status == "all" or t["completed"] == (status == "completed")
        ]
        if due_after:
            tasks = [t for t in tasks if t["due_at"] and t["due_at"] >= start("due_after", due_after)]
        if due_before:
            tasks = [t for t in tasks if t["due_at"] and t["due_at"] < start("due_before", due_before)]
        if overdue:
            tasks = [t for t in tasks if not t["completed"] and t["due_at"] and t["due_at"] < self.now()]
        if priority:
            tasks = [t for t in tasks if t["priority"] == priority]
        if tag:
            tasks = [t for t in tasks if tag.lstrip("#").lower() in t["tags"]]
        if query:
            words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 1]
            text = lambda t: f"{t['title']} {t['description'] or ''}".lower()  # noqa: E731
            tasks = [t for t in tasks if all(w[:5] in text(t) for w in words)]
        if sort == "due":
            tasks.sort(key=lambda t: (t["due_at"] is None, t["due_at"] or datetime.max.replace(tzinfo=UTC)))
        elif sort == "priority":
            tasks.sort(key=lambda t: -PRIORITIES.index(t["priority"]))
        return {"tasks": [self._public(t) for t in tasks[:limit]]}

    def _get(self, task_id: int) -> dict[str, Any]:
        if task_id not in self.tasks:
            raise ValueError(f"Task {task_id} not found")
        return self.tasks[task_id]

    def complete_task(self, task_id: int) -> dict[str, Any]:
        task = self._get(task_id)
        task["completed"], task["completed_at"], task["remind_at"] = True, self.now(), None
        out, following = self._public(task), None
        if task["repeat"] and task["due_at"]:
            after = rrulestr(task["repeat"], dtstart=task["due_at"]).after(task["due_at"])
            if after:
                due = after.date().isoformat() if task["all_day"] else after.isoformat()
                kept = {"priority": task["priority"], "tags": task["tags"], "repeat": task["repeat"]}
                following = self.add_task(task["title"], task["description"], due_at=due, **kept)
        return {**out, "next": following}

    def delete_task(self, task_id: int) -> dict[str, Any]:
        return self._public(self.tasks.pop(self._get(task_id)["id"]))

    def update_task(
        self, task_id: int, title: str | None = None, description: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        task = self._get(task_id)
        if title is not None:
            task["title"] = title.strip()
        if description is not None:
            task["description"] = description.strip()
        self._set(task, fields)
        return self._public(task)

    def list_reminders(self) -> dict[str, Any]:
        pending = sorted(
            (t for t in self.tasks.values() if t["remind_at"] and not t["completed"]),
            key=lambda t: t["remind_at"],
        )
        keys = ("title", "remind_at", "due_at", "all_day", "repeat")
        return {"reminders": [{"task_id": t["id"], **{k: self._public(t)[k] for k in keys}} for t in pending]}


class Chat:
    """One conversation: each message runs the model until it answers, as `Runner` does, with the line
    about "now" that the worker puts in the agent's instructions."""

    def __init__(self, tools: Tools) -> None:
        self.tools = tools
        self.history: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.arguments: list[dict[str, Any]] = []

    def instructions(self) -> str:
        now, zone = self.tools.now(), self.tools.zone.key
        return f"Current time: {now.isoformat(timespec='seconds')} ({now:%A}) in time zone {zone}."

    def send(self, message: str) -> str:
        items: list[dict[str, Any]] = [*self.history, {"role": "user", "content": message}]
        made: list[dict[str, Any]] = []
        for _ in range(12):
            output = decide(items + made, self.instructions())
            calls = [o for o in output if isinstance(o, ResponseFunctionToolCall)]
            if not calls:
                (answer,) = [o for o in output if isinstance(o, ResponseOutputMessage)]
                text = answer.content[0].text
                break
            for call in calls:
                try:
                    result = json.dumps(getattr(self.tools, call.name)(**json.loads(call.arguments)))
                except ValueError as exc:
                    result = str(exc)
                made += [
                    {
                        "type": "function_call",
                        "call_id": call.call_id,
                        "name": call.name,
                        "arguments": call.arguments,
                    },
                    {"type": "function_call_output", "call_id": call.call_id, "output": result},
                ]
        else:
            raise AssertionError("the model never answered")
        self.calls = [m["name"] for m in made if m["type"] == "function_call"]
        self.arguments = [json.loads(m["arguments"]) for m in made if m["type"] == "function_call"]
        self.history = [*items, *made, {"role": "assistant", "content": text}]
        return text


def play(case: dict[str, Any]) -> list[str]:
    """A corpus case against the double; the other user's task is an id this user's tools do not know."""
    tools = Tools(case.get("timezone", "UTC"))
    now = tools.now()
    other_id = 1
    ids = []
    for task in case.get("tasks", []):
        added = tools.add_task(**starting_arguments(task, now))
        if task.get("completed"):
            tools.complete_task(added["id"])
        ids.append(added["id"])
    chat = Chat(tools)
    problems = []
    for turn in case["turns"]:
        message = re.sub(r"\{id:(\d+)\}", lambda m: str(ids[int(m.group(1))]), turn)
        message = re.sub(r"\{other:\d+\}", str(other_id), message)
        reply = chat.send(message)
        if "OTHER-USER-SECRET" in reply:
            problems.append("mentions the other user's task")
    expect = case["expect"]
    have = [tools._public(t) for t in tools.tasks.values()]
    if "tasks" in expect and not same_tasks(have, expect["tasks"], now):
        problems.append(f"tasks: {have}")
    problems += [f"no {n} call in {chat.calls}" for n in expect.get("calls", []) if n not in chat.calls]
    problems += [f"a {n} call" for n in expect.get("no_calls", []) if n in chat.calls]
    problems += [
        f"reply lacks {s!r}: {reply!r}" for s in expect.get("reply", []) if s.lower() not in reply.lower()
    ]
    problems += [
        f"reply has {s!r}: {reply!r}" for s in expect.get("reply_not", []) if s.lower() in reply.lower()
    ]
    return problems


CASES = [json.loads(line) for corpus in CORPORA for line in corpus.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    assert play(case) == []


class TestConversations:
    def test_a_pronoun_refers_to_the_task_added_a_turn_ago(self) -> None:
        tools = Tools()
        chat = Chat(tools)
        chat.send("Add a task to call the plumber")
        assert "Call the plumber" in chat.send("mark it as done")
        assert chat.calls == ["complete_task"]
        assert [t["completed"] for t in tools.tasks.values()] == [True]

    def test_a_question_back_is_answered_by_the_next_message(self) -> None:
        tools = Tools()
        mom, dad = tools.add_task("Call mom"), tools.add_task("Call dad")
        chat = Chat(tools)
        question = chat.send("delete the call task")
        assert question.startswith("Which one") and chat.calls == ["list_tasks"]
        assert len(tools.tasks) == 2  # nothing changed yet
        chat.send("the second one")
        assert chat.calls == ["delete_task"] and list(tools.tasks) == [mom["id"]]
        assert dad["id"] not in tools.tasks

    def test_not_found_changes_nothing_and_says_so(self) -> None:
        tools = Tools()
        tools.add_task("Pay rent")
        chat = Chat(tools)
        reply = chat.send("Delete the task about skydiving")
        assert "not found" in reply and chat.calls == ["list_tasks"] and len(tools.tasks) == 1

    def test_an_unknown_id_is_not_found_and_nothing_leaks(self) -> None:
        chat = Chat(Tools())
        reply = chat.send("delete task 4242")
        assert chat.calls == ["delete_task"] and "not found" in reply

    def test_an_add_then_a_change_in_one_message(self) -> None:
        tools = Tools()
        chat = Chat(tools)
        chat.send("add feed the fish and mark it done")
        assert chat.calls == ["add_task", "complete_task"]
        assert [(t["title"], t["completed"]) for t in tools.tasks.values()] == [("Feed the fish", True)]

    def test_a_change_then_the_list_shows_the_change(self) -> None:
        tools = Tools()
        tools.add_task("Call mom")
        tools.add_task("Pay rent")
        chat = Chat(tools)
        reply = chat.send("mark call mom done and show me what's left")
        assert chat.calls == ["list_tasks", "complete_task", "list_tasks"]
        assert "Pay rent" in reply.split("\n", 1)[1] and "Call mom (" not in reply

    def test_undo_an_add(self) -> None:
        tools = Tools()
        chat = Chat(tools)
        chat.send("add buy milk")
        chat.send("undo")
        assert chat.calls == ["delete_task"] and tools.tasks == {}

    def test_small_talk_touches_nothing(self) -> None:
        chat = Chat(Tools())
        for message in ("hi", "tell me a joke", "what can you do?", "thanks!"):
            assert chat.send(message) and chat.calls == []

    def test_bulk_delete_of_completed_tasks_waits_for_a_yes(self) -> None:
        tools = Tools()
        keep = tools.add_task("Buy groceries")
        tools.complete_task(tools.add_task("Call mom")["id"])
        chat = Chat(tools)
        question = chat.send("delete all completed tasks")
        assert chat.calls == ["list_tasks"] and len(tools.tasks) == 2
        assert "Call mom" in question and "Shall I" in question
        reply = chat.send("yes")
        assert list(tools.tasks) == [keep["id"]] and "Call mom" in reply

    def test_a_bulk_change_is_cancelled_by_anything_but_a_yes(self) -> None:
        tools = Tools()
        for title in ("Buy milk", "Call mom", "Pay rent"):
            tools.add_task(title)
        chat = Chat(tools)
        chat.send("delete all my tasks")
        assert "won't" in chat.send("no") and chat.calls == []
        chat.send("mark everything as done")
        chat.send("add walk the dog")
        assert chat.calls == ["add_task"]
        assert chat.send("yes") and chat.calls == []  # the offer lapsed: a yes now changes nothing
        assert len(tools.tasks) == 4 and not any(t["completed"] for t in tools.tasks.values())

    def test_the_yes_acts_only_on_the_tasks_the_user_saw(self) -> None:
        tools = Tools()
        tools.add_task("Buy milk")
        tools.add_task("Call mom")
        chat = Chat(tools)
        chat.send("delete everything")
        late = tools.add_task("Added in another tab")
        chat.send("yes")
        assert list(tools.tasks) == [late["id"]]

    def test_a_loose_match_is_asked_about_and_a_yes_picks_it(self) -> None:
        tools = Tools()
        milk = tools.add_task("Buy milk")
        tools.add_task("Pay rent")
        chat = Chat(tools)
        question = chat.send("delete the milk and cheese order")
        assert question.startswith("Do you mean “Buy milk”") and chat.calls == ["list_tasks"]
        chat.send("yes")
        assert chat.calls == ["delete_task"] and milk["id"] not in tools.tasks

    @pytest.mark.parametrize(
        "message",
        [
            "Did I already add something about the dentist?",
            "is the dentist appointment done?",
            "what would happen if I deleted the dentist appointment?",
            "don't delete the dentist appointment",
            "Should I cancel the dentist appointment?",
            "I haven't been to the dentist appointment yet",
        ],
    )
    def test_questions_hedges_and_negations_change_nothing(self, message: str) -> None:
        tools = Tools()
        tools.add_task("Dentist appointment")
        chat = Chat(tools)
        reply = chat.send(message)
        assert set(chat.calls) <= {"list_tasks"} and reply
        assert [(t["title"], t["completed"]) for t in tools.tasks.values()] == [
            ("Dentist appointment", False)
        ]


class TestNowAndZone:
    def test_the_model_reads_now_and_the_zone_from_its_instructions(self) -> None:

        instructions = (
            "Be nice.\nCurrent time: 2026-12-03T23:30:00+09:00 (Thursday) in time zone Asia/Tokyo.\n"
        )
        response = asyncio.run(
            OfflineModel().get_response(instructions, "call mom tomorrow at 9am", None, [], None, [], None)
        )
        (call,) = response.output
        assert call.name == "add_task"
        assert json.loads(call.arguments) == {"title": "Call mom", "due_at": "2026-12-04T09:00:00+09:00"}

    def test_without_the_line_now_is_utc(self) -> None:
        before = datetime.now(UTC).date().isoformat()
        (call,) = decide([{"role": "user", "content": "add pay rent today"}], None)
        assert json.loads(call.arguments)["due_at"] in {before, datetime.now(UTC).date().isoformat()}

    def test_a_listing_sends_its_filters_to_the_tool(self) -> None:
        tools = Tools("America/New_York")
        chat = Chat(tools)
        chat.send("what's overdue?")
        assert chat.arguments == [{"status": "pending", "overdue": True}]
        chat.send("show my urgent tasks tagged work")
        assert chat.arguments == [{"status": "pending", "priority": "urgent", "tag": "work"}]
