"""The Gemini path end to end: our worker's run job, through the real `openai` client and the Agents SDK's
Chat Completions model, over HTTP to a fake of Gemini's OpenAI-compatible endpoint (`tests/fake_llm.py`),
with the task tools writing to the real PostgreSQL. The fake enforces Gemini's thought-signature rule."""

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from sqlmodel import col, select

from common.events import read_after
from common.models import Conversation, Message, Role, Run, RunStatus, Task
from mcp_tools.server import mcp
from tests.factories import new_run, reload
from tests.fake_llm import (
    PATH,
    Call,
    Failure,
    FakeLLM,
    Quota,
    Recorded,
    Stall,
    after_tool_result,
    text,
    tool_call,
    tool_calls,
)
from worker import gemini as paced
from worker.prompts import INSTRUCTIONS
from worker.run import run_chat_job
from worker.runtime import Runtime

TOOLS = {"add_task", "list_tasks", "complete_task", "delete_task", "update_task", "list_reminders"}
TIMEOUT_S = 0.5


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def gemini(settings, fake: FakeLLM, **overrides: Any):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "llm_provider": "gemini",
            "gemini_api_key": "test-key",
            "gemini_base_url": fake.base_url,
            "gemini_model": "gemini-2.5-flash",
            "model_timeout_s": TIMEOUT_S,
            "model_max_retries": 2,
            # The shared pace and breaker live under the prefix: each test gets its own.
            "redis_prefix": f"{settings.redis_prefix}-{uuid.uuid4().hex[:8]}",
            **overrides,
        }
    )


@pytest.fixture
async def runtime(settings, sessions, fake):  # type: ignore[no-untyped-def]
    rt = await Runtime.create(gemini(settings, fake))
    yield rt
    await rt.close()


async def tasks_of(sessions, user_id: str) -> list[Task]:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        return list((await s.exec(select(Task).where(Task.user_id == user_id).order_by(col(Task.id)))).all())


async def unfinished_runs(sessions, user_id: str) -> list[Run]:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        stmt = select(Run).where(
            Run.user_id == user_id, col(Run.status).in_([RunStatus.queued, RunStatus.running])
        )
        return list((await s.exec(stmt)).all())


def signature_of(call: dict[str, Any]) -> str | None:
    return ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")


def retry_delay(answer: Recorded) -> float:
    """The `RetryInfo.retryDelay` of the fake's 429, in seconds."""
    (info,) = [d for d in answer.error_body[0]["error"]["details"] if d["@type"].endswith("RetryInfo")]
    return float(info["retryDelay"].removesuffix("s"))


def roles(body: dict[str, Any]) -> list[str]:
    return [m["role"] for m in body["messages"]]


class TestGeminiRequests:
    @pytest.mark.parametrize(
        ("stream", "split_tool_arguments"),
        [(True, False), (True, True), (False, False)],
        ids=["streamed-gemini-chunks", "streamed-openai-fragments", "not-streamed"],
    )
    async def test_a_tool_turn_goes_over_the_wire_as_gemini_expects(
        self, runtime, sessions, fake, user_id, stream, split_tool_arguments
    ) -> None:  # type: ignore[no-untyped-def]
        fake.split_tool_arguments = split_tool_arguments
        answer_text = "Added “Buy groceries” to your list."
        fake.set_script(
            lambda body: (
                text(answer_text)
                if after_tool_result(body)
                else tool_call("add_task", {"title": "Buy groceries"})
            )
        )
        # An earlier exchange in the same conversation, without tool calls.
        async with sessions() as s:
            conversation = Conversation(user_id=user_id)
            s.add(conversation)
            await s.flush()
            hi = Message(user_id=user_id, conversation_id=conversation.id, role=Role.user, content="hi")
            hello = Message(
                user_id=user_id, conversation_id=conversation.id, role=Role.assistant, content="Hello!"
            )
            s.add_all([hi, hello])
            await s.flush()
            s.add(
                Run(
                    user_id=user_id,
                    conversation_id=conversation.id,
                    user_message_id=hi.id,
                    assistant_message_id=hello.id,
                    status=RunStatus.succeeded,
                )
            )
            await s.commit()
        run = await new_run(sessions, user_id, "Add a task to buy groceries", conversation.id)

        await run_chat_job(runtime, run.id, stream=stream)

        first, second = fake.requests
        for request in (first, second):
            assert (request.method, request.path, request.status) == ("POST", PATH, 200)
            assert request.headers["authorization"] == "Bearer test-key"
            assert request.body["model"] == "gemini-2.5-flash"
            # Someone streams: Runner.run_streamed; nobody does: the plain request.
            assert request.body.get("stream", False) is stream
            assert request.body["temperature"] == 0.2
            tools = request.body["tools"]
            assert {t["function"]["name"] for t in tools} == TOOLS and len(tools) == len(TOOLS)
            for tool in tools:
                assert tool["type"] == "function" and tool["function"]["description"]
                parameters = tool["function"]["parameters"]
                assert "user_id" not in parameters.get("properties", {})
                assert "user_id" not in parameters.get("required", [])
            system = request.body["messages"][0]
            assert system["role"] == "system" and system["content"].startswith(INSTRUCTIONS)
            assert re.search(
                r"\nCurrent time: \S+\+00:00 \(\w+day\) in time zone UTC\.\n$", system["content"]
            )
            assert request.body["messages"][1:4] == [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Add a task to buy groceries"},
            ]
        assert set(first.body) - {"stream"} == {"model", "messages", "tools", "temperature"}
        assert len(first.body["messages"]) == 4

        # The second request carries the model's tool call, with its thought signature, and the result.
        assert roles(second.body)[4:] == ["assistant", "tool"]
        assistant, tool_message = second.body["messages"][4:]
        (sent_call,) = assistant["tool_calls"]
        assert sent_call["function"] == {
            "name": "add_task",
            "arguments": json.dumps({"title": "Buy groceries"}),
        }
        assert fake.signatures[signature_of(sent_call)] == sent_call["id"]
        assert tool_message["tool_call_id"] == sent_call["id"]
        assert isinstance(tool_message["content"], str)  # a JSON string, not a list of content parts
        (task,) = await tasks_of(sessions, user_id)
        result = json.loads(tool_message["content"])
        assert result["id"] == task.id and result["title"] == "Buy groceries" and result["completed"] is False
        assert "user_id" not in result

        run, answer, calls = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and run.error is None and run.attempts == 1
        assert answer.role == Role.assistant and answer.content == answer_text
        assert [(c.name, c.arguments, c.status) for c in calls] == [
            ("add_task", {"title": "Buy groceries"}, "ok")
        ]
        assert task.user_id == user_id and task.title == "Buy groceries"

        # Streaming reached the run's event channel: tool call, result, text deltas, done. Without a
        # streaming reader, only the end.
        events = await read_after(runtime.redis, runtime.settings.redis_prefix, run.id, 0)
        kinds = [e.event for e in events]
        if not stream:
            assert kinds == ["done"]
            return
        assert kinds[:2] == ["tool_call", "tool_result"] and kinds[-1] == "done"
        assert events[0].data["arguments"] == {"title": "Buy groceries"}
        assert events[1].data["result"]["id"] == task.id
        deltas = [e.data["text"] for e in events if e.event == "delta"]
        assert len(deltas) > 1 and "".join(deltas) == answer_text

    async def test_a_second_turn_sends_the_first_turn_and_acts_on_it(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_script(
            lambda body: (
                text("Added “Call the plumber”.")
                if after_tool_result(body)
                else tool_call("add_task", {"title": "Call the plumber"})
            )
        )
        first = await new_run(sessions, user_id, "Add a task to call the plumber")
        await run_chat_job(runtime, first.id)
        (task,) = await tasks_of(sessions, user_id)

        def second_turn(body: dict[str, Any]):  # type: ignore[no-untyped-def]
            if after_tool_result(body):
                return text("Marked “Call the plumber” as done.")
            # Like a real model, find the id in the earlier tool result the history carries.
            earlier = [json.loads(m["content"]) for m in body["messages"] if m["role"] == "tool"]
            return tool_call("complete_task", {"task_id": earlier[-1]["id"]})

        fake.requests.clear()
        fake.set_script(second_turn)
        second = await new_run(sessions, user_id, "mark it as done", first.conversation_id)
        await run_chat_job(runtime, second.id)

        body = fake.requests[0].body
        assert roles(body) == ["system", "user", "assistant", "tool", "assistant", "user"]
        messages = body["messages"]
        assert messages[1] == {"role": "user", "content": "Add a task to call the plumber"}
        (earlier_call,) = messages[2]["tool_calls"]
        assert earlier_call["function"]["name"] == "add_task"
        assert json.loads(earlier_call["function"]["arguments"]) == {"title": "Call the plumber"}
        assert signature_of(earlier_call) is None  # rebuilt from Postgres; Gemini checks only this turn
        assert messages[3]["tool_call_id"] == earlier_call["id"] and isinstance(messages[3]["content"], str)
        assert json.loads(messages[3]["content"])["id"] == task.id
        assert messages[4] == {"role": "assistant", "content": "Added “Call the plumber”."}
        assert messages[5] == {"role": "user", "content": "mark it as done"}
        # This turn's call went back signed (the fake would have answered 400 otherwise).
        current_call = fake.requests[1].body["messages"][6]["tool_calls"][0]
        assert signature_of(current_call) in fake.signatures

        run, answer, calls = await reload(sessions, second.id)
        assert run.status == RunStatus.succeeded and answer.content == "Marked “Call the plumber” as done."
        assert [(c.name, c.arguments) for c in calls] == [("complete_task", {"task_id": task.id})]
        assert [(t.id, t.completed) for t in await tasks_of(sessions, user_id)] == [(task.id, True)]

    async def test_parallel_calls_are_signed_on_the_first_call_only(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_script(
            [
                tool_calls(
                    Call("add_task", {"title": "Buy milk"}), Call("add_task", {"title": "Walk the dog"})
                ),
                text("Added both."),
            ]
        )
        run = await new_run(sessions, user_id, "Add buy milk and walk the dog")
        await run_chat_job(runtime, run.id)

        sent = fake.requests[1].body["messages"]
        assert roles(fake.requests[1].body) == ["system", "user", "assistant", "tool", "tool"]
        first_call, second_call = sent[2]["tool_calls"]
        assert signature_of(first_call) in fake.signatures and signature_of(second_call) is None
        assert [m["tool_call_id"] for m in sent[3:]] == [first_call["id"], second_call["id"]]
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and answer.content == "Added both."
        assert [t.title for t in await tasks_of(sessions, user_id)] == ["Buy milk", "Walk the dog"]


class TestGeminiPlanning:
    async def test_the_users_zone_reaches_the_model_and_its_dated_call_is_stored(
        self, runtime, fake, sessions, user_id
    ) -> None:
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo

        from common.models import UserState

        async with sessions() as s:
            s.add(UserState(user_id=user_id, timezone="America/New_York"))
            await s.commit()
        day = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=1)
        due = f"{day}T17:00:00-05:00"
        arguments = {
            "title": "Call mom",
            "description": "about her birthday party",
            "due_at": due,
            "priority": "high",
            "tags": ["family"],
            "remind_before_minutes": 30,
        }
        fake.set_script(
            [tool_call("add_task", arguments), text("Added “Call mom”, due tomorrow at 5:00 PM.")]
        )
        run = await new_run(sessions, user_id, "call mom tomorrow at 5pm, it is about her birthday party")
        await run_chat_job(runtime, run.id)

        first, second = fake.requests
        system = first.body["messages"][0]["content"]
        assert re.search(
            r"\nCurrent time: \S+-0[45]:00 \(\w+day\) in time zone America/New_York\.\n$", system
        )
        add = next(t for t in first.body["tools"] if t["function"]["name"] == "add_task")["function"]
        optional = {"description", "due_at", "priority", "tags", "remind_at", "repeat"}
        optional.add("remind_before_minutes")
        assert set(add["parameters"]["properties"]) == {"title"} | optional
        assert add["parameters"]["required"] == ["title"]
        # Exactly the arguments the model sent were stored, and the result it read back is in its zone.
        _, answer, calls = await reload(sessions, run.id)
        assert [(c.name, c.arguments) for c in calls] == [("add_task", arguments)]
        (task,) = await tasks_of(sessions, user_id)
        assert task.due_at == datetime.fromisoformat(due) and (task.priority, task.tags) == (
            "high",
            ["family"],
        )
        result = json.loads(second.body["messages"][-1]["content"])
        assert result["due_at"] == due and result["remind_at"] == f"{day}T16:30:00-05:00"
        assert answer.content == "Added “Call mom”, due tomorrow at 5:00 PM."

    def test_the_fake_rejects_what_gemini_rejects_and_the_worker_never_sends_it(self) -> None:
        import asyncio

        from tests.fake_llm import _gemini_schema_problem
        from worker.tools import gemini_safe

        raw = {t.name: t.parameters for t in asyncio.run(mcp.list_tools())}
        assert _gemini_schema_problem(raw["update_task"], "update_task")
        for name, schema in raw.items():
            assert _gemini_schema_problem(gemini_safe(schema), name) is None


class TestFakeGemini:
    """The fake must be able to fail: it rejects what Gemini rejects."""

    async def test_a_current_turn_call_without_its_signature_is_rejected(self, fake) -> None:  # type: ignore[no-untyped-def]
        fake.set_script([tool_call("add_task", {"title": "x"}), text("ok"), text("ok")])
        client = openai.AsyncOpenAI(api_key="test-key", base_url=fake.base_url, max_retries=0)
        messages: list[Any] = [{"role": "user", "content": "add x"}]
        completion = await client.chat.completions.create(model="gemini-2.5-flash", messages=messages)
        call = completion.choices[0].message.tool_calls[0].model_dump(exclude_none=True)
        assert signature_of(call) in fake.signatures
        unsigned = {k: v for k, v in call.items() if k != "extra_content"}
        result = {"role": "tool", "tool_call_id": call["id"], "content": "{}"}

        with pytest.raises(openai.BadRequestError) as rejected:
            await client.chat.completions.create(
                model="gemini-2.5-flash",
                messages=[*messages, {"role": "assistant", "tool_calls": [unsigned]}, result],
            )
        # Gemini's error body is a JSON list, so the client's message is only "Error code: 400".
        assert str(rejected.value) == "Error code: 400"
        assert "missing a thought_signature" in rejected.value.body[0]["error"]["message"]
        # The same call in an earlier turn (a later user message follows) is not validated.
        earlier = [*messages, {"role": "assistant", "tool_calls": [unsigned]}, result]
        await client.chat.completions.create(
            model="gemini-2.5-flash", messages=[*earlier, {"role": "user", "content": "thanks"}]
        )
        signed = await client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[*messages, {"role": "assistant", "tool_calls": [call]}, result],
        )
        assert signed.choices[0].message.content == "ok"
        assert [r.status for r in fake.requests] == [200, 400, 200, 200]

        bad_key = openai.AsyncOpenAI(api_key="wrong", base_url=fake.base_url, max_retries=0)
        with pytest.raises(openai.BadRequestError) as bad:
            await bad_key.chat.completions.create(model="gemini-2.5-flash", messages=messages)
        assert bad.value.body[0]["error"]["message"].startswith("API key not valid")


class TestGeminiFailures:
    async def test_a_rate_limit_waits_for_geminis_retry_delay_and_the_run_succeeds(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_quota(Quota(per_window=1, window_s=0.6))
        fake.set_script([tool_call("add_task", {"title": "Buy milk"}), text("Added “Buy milk”.")])
        run = await new_run(sessions, user_id, "add milk")
        await run_chat_job(runtime, run.id)

        assert [r.status for r in fake.requests] == [200, 429, 200]
        _, limited, retried = fake.requests
        assert retried.body == limited.body
        delay = retry_delay(limited)
        assert 0.3 < delay <= 0.6
        assert retried.at - limited.at >= delay  # Gemini's RetryInfo, honoured
        assert fake.early == []
        assert retried.headers["x-stainless-retry-count"] == "0"  # our loop, not the client's as well
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and run.attempts == 1
        assert answer.content == "Added “Buy milk”."
        assert [t.title for t in await tasks_of(sessions, user_id)] == ["Buy milk"]

    async def test_a_429_without_retry_info_honours_the_retry_after_header(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.fail_next(1, 429, retry_after_ms=300)
        fake.set_script([text("Hello!")])
        run = await new_run(sessions, user_id, "hi")
        await run_chat_job(runtime, run.id)

        assert [r.status for r in fake.requests] == [429, 200]
        assert fake.requests[1].at - fake.requests[0].at >= 0.3
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and answer.content == "Hello!"

    async def test_a_quota_that_will_not_free_in_time_ends_the_run_readably_at_once(
        self, settings, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_quota(Quota(per_window=0, retry_delay_s=30))
        rt = await Runtime.create(gemini(settings, fake, gemini_max_wait_s=2.0))
        try:
            run = await new_run(sessions, user_id, "add milk")
            started = time.monotonic()
            await run_chat_job(rt, run.id)
            elapsed = time.monotonic() - started
        finally:
            await rt.close()

        assert [r.status for r in fake.requests] == [429]  # the pause outlasts the wait allowed: no retry
        assert elapsed < 2.0
        run, answer, calls = await reload(sessions, run.id)
        assert run.status == RunStatus.failed and answer.content == paced.BUSY
        assert run.error.startswith("ModelUnavailable: gemini-2.5-flash: no turn within 2 s (paused)")
        assert "RateLimitError: Error code: 429" in run.error and '"retryDelay": "30s"' in run.error
        assert calls == [] and await unfinished_runs(sessions, user_id) == []

    async def test_a_daily_quota_is_answered_at_once_and_not_asked_again(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_quota(Quota(per_day=0))
        first = await new_run(sessions, user_id, "add milk")
        started = time.monotonic()
        await run_chat_job(runtime, first.id)
        elapsed = time.monotonic() - started
        second = await new_run(sessions, user_id, "add bread", first.conversation_id)
        await run_chat_job(runtime, second.id)

        assert [r.status for r in fake.requests] == [429]  # no retry, and the second run sent nothing
        assert elapsed < 1.0
        for run_id in (first.id, second.id):
            run, answer, _ = await reload(sessions, run_id)
            assert run.status == RunStatus.failed and answer.content == paced.DAILY
            assert run.error.startswith("ModelUnavailable: the daily quota of gemini-2.5-flash is used up")
        first_run, _, _ = await reload(sessions, first.id)
        assert "GenerateRequestsPerDayPerProjectPerModel-FreeTier" in first_run.error  # Gemini's reason

    @pytest.mark.parametrize(
        ("status", "readable", "cause"),
        [
            (500, paced.FAILING, "InternalServerError: Error code: 500"),
            (503, paced.OVERLOADED, "InternalServerError: Error code: 503"),
        ],
    )
    async def test_a_model_that_keeps_failing_ends_the_run_readably(
        self, runtime, sessions, fake, user_id, status, readable, cause
    ) -> None:  # type: ignore[no-untyped-def]
        fake.fail_next(10, status)
        run = await new_run(sessions, user_id, "add milk")
        await run_chat_job(runtime, run.id)

        assert [r.status for r in fake.requests] == [status] * 3  # one try and model_max_retries=2
        first, second, third = (r.at for r in fake.requests)
        assert second - first >= 0.25 and third - second >= 0.5  # backed off, with jitter
        run, answer, calls = await reload(sessions, run.id)
        assert run.status == RunStatus.failed and run.finished_at and answer.content == readable
        assert run.error.startswith("ModelUnavailable: gemini-2.5-flash failed 3 times <- " + cause)
        assert '"status": "' in run.error  # Gemini's body, kept
        assert calls == [] and await tasks_of(sessions, user_id) == []
        assert await unfinished_runs(sessions, user_id) == []
        events = await read_after(runtime.redis, runtime.settings.redis_prefix, run.id, 0)
        assert [(e.event, e.data["message"]) for e in events] == [("error", answer.content)]

    async def test_a_failure_after_a_tool_call_keeps_the_tool_effect_and_fails_readably(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_script([tool_call("add_task", {"title": "Buy milk"})])
        fake.add(*[Failure(500, retry_after_ms=20) for _ in range(3)])
        run = await new_run(sessions, user_id, "add milk")
        await run_chat_job(runtime, run.id)

        assert [r.status for r in fake.requests] == [200, 500, 500, 500]
        run, answer, calls = await reload(sessions, run.id)
        assert run.status == RunStatus.failed and answer.content == paced.FAILING
        assert [c.name for c in calls] == ["add_task"]  # recorded, so a retried run replays it
        assert [t.title for t in await tasks_of(sessions, user_id)] == ["Buy milk"]

    async def test_a_hung_model_times_out_and_the_run_fails_readably(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.hang_next(10, seconds=30)
        run = await new_run(sessions, user_id, "add milk")
        started = time.monotonic()
        await run_chat_job(runtime, run.id)
        elapsed = time.monotonic() - started

        assert len(fake.requests) == 3  # each attempt timed out after model_timeout_s, then retried
        assert elapsed < 30  # the client gave up; it did not wait for the fake
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.failed
        assert (
            run.error
            == "ModelUnavailable: gemini-2.5-flash failed 3 times <- APITimeoutError: Request timed out."
        )
        assert answer.content == paced.TOO_SLOW
        assert await unfinished_runs(sessions, user_id) == []

    async def test_a_slow_model_within_the_timeout_is_waited_for_not_retried(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.delay_s = TIMEOUT_S * 0.6
        fake.set_script([tool_call("add_task", {"title": "Buy milk"}), text("Added “Buy milk”.")])
        run = await new_run(sessions, user_id, "add milk")
        await run_chat_job(runtime, run.id)

        assert [r.status for r in fake.requests] == [200, 200]
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and answer.content == "Added “Buy milk”."

    async def test_a_stream_that_stalls_midway_times_out_and_the_run_fails_readably(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_script([Stall(seconds=30)])
        run = await new_run(sessions, user_id, "add milk")
        await run_chat_job(runtime, run.id, stream=True)

        assert len(fake.requests) == 1  # a stream that already began is not retried by the client
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.failed and "took too long" in answer.content
        assert await unfinished_runs(sessions, user_id) == []

    async def test_malformed_tool_arguments_end_the_run_cleanly(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_script(
            [tool_call("add_task", '{"title": "Buy milk"'), text("Sorry, could you say that again?")]
        )
        run = await new_run(sessions, user_id, "add milk")
        await run_chat_job(runtime, run.id, stream=True)

        # The SDK does not call the tool; it tells the model the call failed, and the model answers.
        _, retry = fake.requests
        assert retry.body["messages"][-1] == {
            "role": "tool",
            "tool_call_id": retry.body["messages"][-2]["tool_calls"][0]["id"],
            "content": "An error occurred while running the tool. Please try again.",
        }
        run, answer, calls = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and answer.content == "Sorry, could you say that again?"
        assert calls == [] and await tasks_of(sessions, user_id) == []
        events = await read_after(runtime.redis, runtime.settings.redis_prefix, run.id, 0)
        assert events[0].event == "tool_call" and events[0].data["arguments"] == '{"title": "Buy milk"'

    async def test_a_rejected_request_records_geminis_reason(self, settings, sessions, fake, user_id) -> None:  # type: ignore[no-untyped-def]
        rt = await Runtime.create(gemini(settings, fake, gemini_api_key="revoked-key"))
        try:
            run = await new_run(sessions, user_id, "add milk")
            await run_chat_job(rt, run.id)
        finally:
            await rt.close()

        assert [r.status for r in fake.requests] == [400]  # a 400 is not retried
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.failed and "returned an error (400)" in answer.content
        assert run.error.startswith("BadRequestError: Error code: 400") and "API key not valid" in run.error

    async def test_a_current_turn_call_sent_back_unsigned_is_rejected_through_the_worker(
        self, settings, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        # The SDK restores `extra_content` only for model names containing "gemini"; under another name
        # it drops the signature, which is exactly what Gemini rejects. This proves the fake would catch it.
        fake.set_script([tool_call("add_task", {"title": "Buy milk"}), text("never sent")])
        rt = await Runtime.create(gemini(settings, fake, gemini_model="flash-alias"))
        try:
            run = await new_run(sessions, user_id, "add milk")
            await run_chat_job(rt, run.id)
        finally:
            await rt.close()

        assert [r.status for r in fake.requests] == [200, 400]
        assert signature_of(fake.requests[1].body["messages"][2]["tool_calls"][0]) is None
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.failed and "returned an error (400)" in answer.content
        assert "missing a thought_signature" in run.error
        assert [t.title for t in await tasks_of(sessions, user_id)] == ["Buy milk"]


class TestGeminiPacing:
    async def test_a_streamed_run_that_must_wait_tells_its_client_then_answers(
        self, runtime, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_script([tool_call("add_task", {"title": "Buy milk"}), text("Added “Buy milk”.")])
        pace = runtime.model.paces["gemini-2.5-flash"]
        # Another worker's call was answered 429 with retryDelay "1s".
        await pace.limited((await pace.acquire(cost=0, max_wait_s=60)).member, 1.0)
        run = await new_run(sessions, user_id, "add milk")
        started = time.monotonic()
        await run_chat_job(runtime, run.id, stream=True)

        assert [r.status for r in fake.requests] == [200, 200]
        assert fake.requests[0].at - started >= 0.95  # nothing was sent during the pause
        events = await read_after(runtime.redis, runtime.settings.redis_prefix, run.id, 0)
        waiting, working = events[0].data, events[1].data
        assert [e.event for e in events[:3]] == ["status", "status", "tool_call"]
        assert waiting["state"] == "waiting" and waiting["reason"] == "paused"
        assert 0.9 <= waiting["wait_s"] <= 1.0
        assert (
            waiting["message"]
            == "Waiting for the AI model: its quota is exhausted for the moment (about 1 s)…"
        )
        assert working == {"state": "working"}
        assert events[-1].event == "done"
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and answer.content == "Added “Buy milk”."

    async def test_an_open_breaker_holds_the_call_until_its_probe_succeeds(
        self, settings, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_script([text("Hello!")])
        options = {"gemini_breaker_failures": 2, "gemini_breaker_cooldown_s": 0.6}
        rt = await Runtime.create(gemini(settings, fake, **options))
        try:
            pace = rt.model.paces["gemini-2.5-flash"]
            for _ in range(2):  # other workers' calls failed twice in a row: the breaker opens
                await pace.failed((await pace.acquire(cost=0, max_wait_s=60)).member)
            run = await new_run(sessions, user_id, "hi")
            started = time.monotonic()
            await run_chat_job(rt, run.id, stream=True)
            after = await pace.acquire(cost=0, max_wait_s=60)
        finally:
            await rt.close()

        (probe,) = fake.requests
        assert probe.status == 200 and probe.at - started >= 0.5
        assert after.kind == "go" and after.breaker == "closed"  # the probe's success closed it
        events = await read_after(rt.redis, rt.settings.redis_prefix, run.id, 0)
        assert events[0].event == "status" and events[0].data["reason"] == "unavailable"
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and answer.content == "Hello!"

    async def test_a_used_up_daily_quota_falls_back_to_the_next_model(
        self, settings, sessions, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_quota(Quota(per_day=0), model="gemini-2.5-flash")
        fake.set_script([tool_call("add_task", {"title": "Buy milk"}), text("Added “Buy milk”.")])
        rt = await Runtime.create(gemini(settings, fake, gemini_fallback_models=["gemini-2.5-flash-lite"]))
        try:
            run = await new_run(sessions, user_id, "add milk")
            await run_chat_job(rt, run.id)
        finally:
            await rt.close()

        # The second call goes straight to the fallback: the primary is closed for the day.
        assert [(r.body["model"], r.status) for r in fake.requests] == [
            ("gemini-2.5-flash", 429),
            ("gemini-2.5-flash-lite", 200),
            ("gemini-2.5-flash-lite", 200),
        ]
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and answer.content == "Added “Buy milk”."
        assert [t.title for t in await tasks_of(sessions, user_id)] == ["Buy milk"]

    async def test_an_overloaded_primary_falls_back_at_once(self, settings, sessions, fake, user_id) -> None:  # type: ignore[no-untyped-def]
        def overloaded_primary(body: dict[str, Any]):  # type: ignore[no-untyped-def]
            if body["model"] == "gemini-2.5-flash":
                return Failure(503)
            return (
                text("Added “Buy milk”.")
                if after_tool_result(body)
                else tool_call("add_task", {"title": "Buy milk"})
            )

        fake.set_script(overloaded_primary)
        rt = await Runtime.create(gemini(settings, fake, gemini_fallback_models=["gemini-2.5-flash-lite"]))
        try:
            run = await new_run(sessions, user_id, "add milk")
            await run_chat_job(rt, run.id, stream=True)
        finally:
            await rt.close()

        assert [(r.body["model"], r.status) for r in fake.requests] == [
            ("gemini-2.5-flash", 503),
            ("gemini-2.5-flash-lite", 200),
            ("gemini-2.5-flash", 503),
            ("gemini-2.5-flash-lite", 200),
        ]
        assert fake.requests[1].at - fake.requests[0].at < 0.25  # no backoff before the fallback
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and answer.content == "Added “Buy milk”."
