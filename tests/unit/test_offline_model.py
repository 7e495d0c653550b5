"""The offline model driven step by step like the Agents SDK drives it, against an in-memory double of
the MCP task tools, with the history rebuilt the way `worker.history` rebuilds it. The corpus files
run here too, so that a miss shows up in a second rather than in the end-to-end run."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage

from worker.offline.model import decide

CORPORA = sorted((Path(__file__).parents[1] / "eval").glob("*.jsonl"))
OTHER_TITLE = "OTHER-USER-SECRET plan"


class Tools:
    """The five task tools for one user, with the tools' error texts."""

    def __init__(self) -> None:
        self.tasks: dict[int, dict[str, Any]] = {}
        self.next_id = 1000

    def add_task(self, title: str, description: str | None = None) -> dict[str, Any]:
        if not title.strip():
            raise ValueError("Title must not be empty.")
        self.next_id += 1
        task = {"id": self.next_id, "title": title.strip(), "description": description, "completed": False}
        self.tasks[task["id"]] = task
        return dict(task)

    def list_tasks(self, status: str = "all") -> dict[str, Any]:
        tasks = [
            dict(t)
            for t in self.tasks.values()
            if status == "all" or t["completed"] == (status == "completed")
        ]
        return {"tasks": tasks, "count": len(tasks)}

    def _get(self, task_id: int) -> dict[str, Any]:
        if task_id not in self.tasks:
            raise ValueError(f"Task {task_id} not found")
        return self.tasks[task_id]

    def complete_task(self, task_id: int) -> dict[str, Any]:
        self._get(task_id)["completed"] = True
        return dict(self.tasks[task_id])

    def delete_task(self, task_id: int) -> dict[str, Any]:
        return self.tasks.pop(self._get(task_id)["id"])

    def update_task(
        self, task_id: int, title: str | None = None, description: str | None = None
    ) -> dict[str, Any]:
        task = self._get(task_id)
        if title is not None:
            task["title"] = title.strip()
        if description is not None:
            task["description"] = description.strip()
        return dict(task)


class Chat:
    """One conversation: each message runs the model until it answers, as `Runner` does."""

    def __init__(self, tools: Tools) -> None:
        self.tools = tools
        self.history: list[dict[str, Any]] = []
        self.calls: list[str] = []

    def send(self, message: str) -> str:
        items: list[dict[str, Any]] = [*self.history, {"role": "user", "content": message}]
        made: list[dict[str, Any]] = []
        for _ in range(12):
            output = decide(items + made)
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
        self.history = [*items, *made, {"role": "assistant", "content": text}]
        return text


def _norm(text: str | None) -> str:
    text = re.sub(r"\s+", " ", text or "").strip().strip("\"'“”‘’").strip()
    return text.rstrip(".!?,;:").strip().lower()


def _same(have: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    remaining = list(have)
    for expected in want:
        for task in remaining:
            if _norm(task["title"]) in {_norm(t) for t in expected["title"]} and task[
                "completed"
            ] == expected.get("completed", task["completed"]):
                if "description" not in expected or _norm(task["description"]) == _norm(
                    expected["description"]
                ):
                    remaining.remove(task)
                    break
        else:
            return False
    return not remaining


def play(case: dict[str, Any]) -> list[str]:
    """A corpus case against the double; the other user's task is an id this user's tools do not know."""
    tools = Tools()
    other_id = 1
    ids = []
    for task in case.get("tasks", []):
        added = tools.add_task(task["title"], task.get("description"))
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
    if "tasks" in expect and not _same(list(tools.tasks.values()), expect["tasks"]):
        problems.append(f"tasks: {list(tools.tasks.values())}")
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
