"""A worker killed between a tool call and the final answer, against the fake Gemini server, with real
`taskchat` processes: the retry replays the recorded step instead of asking the model again, although the
model would now word the same request differently ("Buy Milk" where it said "Buy milk")."""

import asyncio
import json
import os
import signal
import uuid
from collections import Counter
from typing import Any

import httpx
from sqlmodel import col, select

from common.devkeys import mint_token
from common.models import ModelStep, Run, RunStatus, Task, ToolCall
from tests.e2e.conftest import stop, taskchat
from tests.e2e.test_faults import start_stack, wait_for
from tests.fake_llm import PATH, Action, FakeLLM, Hang, after_tool_result, text, tool_call
from tests.helpers import sse_events

# What each user asks, what the model says to it the first time, and what it would say the next time.
ASKED = {
    "Add a task to buy milk": ("Buy milk", "Buy Milk"),
    "Add a task to call mom": ("Call mom", "Call Mom"),
}


class Fickle:
    """The model of the test: the first time it is asked, it adds the task in one wording; asked again
    from the start, in another. Its first answer after a tool result never comes (the worker is killed
    while it waits); the next says what the tool result it was given says."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()

    def __call__(self, body: dict[str, Any]) -> Action:
        question = _user_question(body)
        if not after_tool_result(body):
            self.asked[question] += 1
            first, again = ASKED[question]
            return tool_call("add_task", {"title": first if self.asked[question] == 1 else again})
        self.answered[question] += 1
        if self.answered[question] == 1:
            return Hang(120)
        result = json.loads(body["messages"][-1]["content"])
        return text(f"Added “{result['title']}”.")


def _user_question(body: dict[str, Any]) -> str:
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")


class TestKilledWorkerReplays:
    async def test_the_retry_replays_the_step_it_already_took(self, private_db) -> None:
        # A database of its own: the session's offline worker would otherwise sweep the killed runs.
        settings, db = private_db
        sessions = db.sessions
        fickle = Fickle()
        with FakeLLM(fickle) as fake:
            env = {
                "DATABASE_URL": settings.database_url,
                "REDIS_PREFIX": f"{settings.redis_prefix}-r{uuid.uuid4().hex[:6]}",
                "LLM_PROVIDER": "gemini",
                "GEMINI_API_KEY": fake.api_key,
                "GEMINI_BASE_URL": fake.base_url,
                "GEMINI_MODEL": fake.model,
                "CHAT_TIMEOUT_S": "90",
            }
            url, processes = start_stack(env)
            users = {question: f"replay-{uuid.uuid4().hex[:8]}" for question in ASKED}
            milk, mom = users["Add a task to buy milk"], users["Add a task to call mom"]
            try:
                async with httpx.AsyncClient(timeout=120) as http:

                    def headers(user: str) -> dict[str, str]:
                        return {"Authorization": f"Bearer {mint_token(settings, user)}"}

                    async def as_json() -> httpx.Response:
                        return await http.post(
                            f"{url}/api/{milk}/chat",
                            json={"message": "Add a task to buy milk"},
                            headers=headers(milk),
                        )

                    async def streamed() -> list[dict[str, Any]]:
                        async with http.stream(
                            "POST",
                            f"{url}/api/{mom}/chat",
                            json={"message": "Add a task to call mom"},
                            headers={**headers(mom), "Accept": "text/event-stream"},
                        ) as response:
                            assert response.status_code == 200
                            return await sse_events(response)

                    answered = asyncio.gather(as_json(), streamed())

                    async def between_the_call_and_the_answer() -> bool:
                        async with sessions() as s:
                            calls = (
                                await s.exec(
                                    select(ToolCall).where(col(ToolCall.user_id).in_(users.values()))
                                )
                            ).all()
                        return len(calls) == 2 and sum(fickle.answered.values()) == 2

                    await wait_for(between_the_call_and_the_answer, timeout_s=60)
                    os.killpg(processes[0].pid, signal.SIGKILL)  # the worker, main process and children
                    processes[0].wait()
                    processes[0] = taskchat("worker", "--processes", "1", "--threads", "16", env=env)
                    response, events = await answered
            finally:
                for process in processes:
                    stop(process)
            bodies = list(fake.bodies)
            statuses = [r.status for r in fake.requests if r.path == PATH]

        async with sessions() as s:
            tasks = (await s.exec(select(Task).where(col(Task.user_id).in_(users.values())))).all()
            runs = (await s.exec(select(Run).where(col(Run.user_id).in_(users.values())))).all()
            calls = (await s.exec(select(ToolCall).where(col(ToolCall.user_id).in_(users.values())))).all()
            steps = (
                await s.exec(select(ModelStep).where(col(ModelStep.run_id).in_([r.id for r in runs])))
            ).all()

        # Exactly one task each, in the first wording, and one ledger row per effect.
        assert sorted((t.user_id, t.title) for t in tasks) == sorted([(milk, "Buy milk"), (mom, "Call mom")])
        assert sorted((c.user_id, c.name, c.arguments["title"]) for c in calls) == sorted(
            [(milk, "add_task", "Buy milk"), (mom, "add_task", "Call mom")]
        )
        assert sorted((r.status, r.attempts) for r in runs) == [(RunStatus.succeeded, 2)] * 2
        assert steps == []  # removed when the runs finished

        # The answers agree with what was done, in both the JSON and the streamed response.
        assert response.status_code == 200
        body = response.json()
        assert body["response"] == "Added “Buy milk”."
        assert [(c["name"], c["arguments"]) for c in body["tool_calls"]] == [
            ("add_task", {"title": "Buy milk"})
        ]
        done = next(e["data"] for e in events if e["event"] == "done")
        assert done["response"] == "Added “Call mom”."
        assert [(c["name"], c["arguments"]) for c in done["tool_calls"]] == [
            ("add_task", {"title": "Call mom"})
        ]

        # The model was asked each question from the start once, and after the tool result twice: once
        # by the killed attempt (never answered), once by the retry, with the first response's call.
        assert dict(fickle.asked) == {question: 1 for question in ASKED}
        assert dict(fickle.answered) == {question: 2 for question in ASKED}
        assert len(bodies) == 6 and sorted(statuses) == [200] * 4 + [504] * 2
        for question in ASKED:
            first, killed, retried = [b for b in bodies if _user_question(b) == question]
            assert not after_tool_result(first) and after_tool_result(killed) and after_tool_result(retried)
            # The retry sends the killed attempt's call again (id, arguments, signature) and the same
            # result (JSONB may order its keys differently).
            assert retried["messages"][1:-1] == killed["messages"][1:-1]  # after the instructions' clock
            assert json.loads(retried["messages"][-1]["content"]) == json.loads(
                killed["messages"][-1]["content"]
            )
            assert retried["messages"][-2]["tool_calls"][0]["extra_content"]["google"]["thought_signature"]
