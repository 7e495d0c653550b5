"""The worker's run job on real PostgreSQL and Redis, with the offline model or a scripted one."""

import asyncio
import dataclasses
import json
from datetime import timedelta

import openai
import pytest
from agents import ModelSettings, ModelTracing
from agents.testing import ModelStep as ScriptStep
from agents.testing import ScriptedModel, assistant_message, function_call
from sqlmodel import col, select

from api.services.chat import chat_result
from common import answers
from common.events import read_after
from common.models import Message, ModelStep, Role, Run, RunStatus, Task, utcnow
from mcp_tools.ledger import META_CALL_KEY, META_RUN_ID, META_STEPS, META_STEPS_RECORDED
from mcp_tools.server import call_in_process
from tests.factories import new_run, reload
from worker import lease
from worker.replay import ReplayModel, dump
from worker.run import RunDeferred, run_chat_job
from worker.runtime import Runtime


@pytest.fixture
async def runtime(settings, sessions):
    rt = await Runtime.create(settings)
    yield rt
    await rt.close()


class TestRunChatJob:
    async def test_a_task_request_is_answered_with_its_tool_call_recorded(
        self, runtime, sessions, user_id
    ) -> None:
        run = await new_run(sessions, user_id, "Add a task to buy groceries")
        await run_chat_job(runtime, run.id)
        run, answer, calls = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and run.attempts == 1 and run.finished_at
        assert "Buy groceries" in answer.content
        assert [(c.name, c.arguments, c.status) for c in calls] == [
            ("add_task", {"title": "Buy groceries"}, "ok")
        ]
        async with sessions() as s:
            assert [t.title for t in (await s.exec(select(Task).where(Task.user_id == user_id))).all()] == [
                "Buy groceries"
            ]

    async def test_the_done_event_carries_the_answer_the_api_would_read_back(
        self, runtime, sessions, user_id
    ) -> None:
        run = await new_run(sessions, user_id, "Add a task to buy groceries and one to call mom")
        await run_chat_job(runtime, run.id)
        events = await read_after(runtime.redis, runtime.settings.redis_prefix, run.id, 0)
        assert [e.event for e in events] == ["done"]
        read_back = await chat_result(runtime.db, run_id=run.id, user_id=user_id)
        assert events[0].data == read_back and answers.carried(events[0].data) == read_back
        assert [c["arguments"]["title"] for c in read_back["tool_calls"]] == ["Buy groceries", "Call mom"]

    async def test_history_reaches_the_agent_without_user_id(self, runtime, sessions, user_id) -> None:
        first = await new_run(sessions, user_id, "Add a task to call the plumber")
        await run_chat_job(runtime, first.id)
        second = await new_run(sessions, user_id, "mark it as done", first.conversation_id)
        model = ScriptedModel([[assistant_message("ok")]])
        await run_chat_job(dataclasses.replace(runtime, model=model), second.id)
        (seen,) = model.calls
        texts = [i.get("content") for i in seen.input if isinstance(i, dict) and "role" in i]
        assert texts[0] == "Add a task to call the plumber" and texts[-1] == "mark it as done"
        assert "Call the plumber" in texts[1]
        earlier_calls = [i for i in seen.input if isinstance(i, dict) and i.get("type") == "function_call"]
        assert [c["name"] for c in earlier_calls] == ["add_task"]
        assert all("user_id" not in (t.params_json_schema.get("properties") or {}) for t in seen.tools)

    async def test_the_model_cannot_choose_the_user(self, runtime, sessions, user_id) -> None:
        run = await new_run(sessions, user_id, "add it for someone else")
        model = ScriptedModel(
            [
                [function_call("add_task", {"title": "planted", "user_id": "victim"}, call_id="c1")],
                [assistant_message("done")],
            ]
        )
        await run_chat_job(dataclasses.replace(runtime, model=model), run.id)
        async with sessions() as s:
            assert (await s.exec(select(Task).where(Task.user_id == "victim"))).all() == []
            assert [t.title for t in (await s.exec(select(Task).where(Task.user_id == user_id))).all()] == [
                "planted"
            ]

    async def test_a_finished_run_is_skipped(self, runtime, sessions, user_id) -> None:
        run = await new_run(sessions, user_id, "Add a task to water the plants")
        await run_chat_job(runtime, run.id)
        await run_chat_job(runtime, run.id)  # a duplicate delivery
        run, _, calls = await reload(sessions, run.id)
        assert run.attempts == 1 and len(calls) == 1
        async with sessions() as s:
            assert len((await s.exec(select(Task).where(Task.user_id == user_id))).all()) == 1

    async def test_a_retried_run_does_not_repeat_its_effects(self, runtime, sessions, user_id) -> None:
        run = await new_run(sessions, user_id, "Add two tasks: buy milk and walk the dog")

        crashing = ScriptedModel(
            [
                [
                    function_call("add_task", {"title": "Buy milk"}, call_id="a"),
                    function_call("add_task", {"title": "Walk the dog"}, call_id="b"),
                ]
            ]
        )
        # The first attempt makes both calls, then the model "crashes" (script exhausted).
        await run_chat_job(dataclasses.replace(runtime, model=crashing), run.id)
        async with sessions() as s:  # pretend the worker died before finishing: back to running
            row = await s.get(Run, run.id)
            row.status, row.assistant_message_id = RunStatus.running, None
            await s.commit()
        await run_chat_job(runtime, run.id)  # the retry, with the offline model making the same calls
        run, answer, calls = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and run.attempts == 2
        async with sessions() as s:
            titles = sorted(
                t.title for t in (await s.exec(select(Task).where(Task.user_id == user_id))).all()
            )
        assert titles == ["Buy milk", "Walk the dog"]
        assert [c.name for c in calls] == ["add_task", "add_task"]

    async def test_model_failure_ends_the_run_with_a_readable_reason(
        self, runtime, sessions, user_id
    ) -> None:
        class Overloaded(ScriptedModel):
            async def get_response(self, *args, **kwargs):
                raise openai.RateLimitError("slow down", response=_response(429), body=None)

            def stream_response(self, *args, **kwargs):
                raise openai.RateLimitError("slow down", response=_response(429), body=None)

        run = await new_run(sessions, user_id, "add milk")
        await run_chat_job(dataclasses.replace(runtime, model=Overloaded([])), run.id)
        run, answer, _ = await reload(sessions, run.id)
        assert run.status == RunStatus.failed and "RateLimitError" in run.error
        assert answer.role == Role.assistant and "rate limited" in answer.content

    async def test_history_is_a_bounded_window_of_whole_turns(self, runtime, sessions, user_id) -> None:
        first = await new_run(sessions, user_id, "question 0")
        async with sessions() as s:
            for n in range(30):
                run = first if n == 0 else None
                if run is None:
                    question = Message(
                        user_id=user_id,
                        conversation_id=first.conversation_id,
                        role=Role.user,
                        content=f"question {n}",
                    )
                    s.add(question)
                    await s.flush()
                    run = Run(
                        user_id=user_id, conversation_id=first.conversation_id, user_message_id=question.id
                    )
                    s.add(run)
                    await s.flush()
                else:
                    run = await s.get(Run, first.id)
                answer = Message(
                    user_id=user_id,
                    conversation_id=first.conversation_id,
                    role=Role.assistant,
                    content=f"answer {n}",
                )
                s.add(answer)
                await s.flush()
                run.status, run.assistant_message_id = RunStatus.succeeded, answer.id
            await s.commit()
        last = await new_run(sessions, user_id, "the newest", first.conversation_id)
        model = ScriptedModel([[assistant_message("ok")]])
        await run_chat_job(dataclasses.replace(runtime, model=model), last.id)
        texts = [i["content"] for i in model.calls[0].input if isinstance(i, dict) and "role" in i]
        turns = runtime.settings.history_max_messages // 2
        expected = [t for n in range(31 - turns, 30) for t in (f"question {n}", f"answer {n}")]
        assert texts == [*expected, "the newest"]

    async def test_an_answer_written_after_a_later_message_stays_in_its_turn(
        self, runtime, sessions, user_id
    ) -> None:
        first = await new_run(sessions, user_id, "Add a task to call the plumber")
        second = await new_run(
            sessions, user_id, "mark it as done", first.conversation_id
        )  # sent before the answer
        await run_chat_job(runtime, first.id)
        await run_chat_job(runtime, second.id)
        _, answer, calls = await reload(sessions, second.id)
        assert [c.name for c in calls] == ["complete_task"]
        assert "Call the plumber" in answer.content


def _response(status: int):
    import httpx2

    return httpx2.Response(status, request=httpx2.Request("POST", "http://model.test/chat/completions"))


class TestRetriedTurn:
    async def test_a_message_retried_as_a_new_run_appears_once(self, runtime, sessions, user_id) -> None:
        first = await new_run(sessions, user_id, "Add a task to call the plumber")
        await run_chat_job(runtime, first.id)
        async with sessions() as s:  # ChatKit's retry: a new run for the same user message
            retry = Run(
                user_id=user_id, conversation_id=first.conversation_id, user_message_id=first.user_message_id
            )
            s.add(retry)
            await s.commit()
        model = ScriptedModel([[assistant_message("ok")]])
        await run_chat_job(dataclasses.replace(runtime, model=model), retry.id)
        texts = [i["content"] for i in model.calls[0].input if isinstance(i, dict) and "role" in i]
        assert texts == ["Add a task to call the plumber"]


async def _set_lease(sessions, run_id: int, *, expires_in_s: float) -> None:
    """As if an attempt (the first) had claimed the run and was working on it."""
    async with sessions() as s:
        row = await s.get(Run, run_id)
        row.status, row.attempts = RunStatus.running, 1
        row.lease_expires_at = utcnow() + timedelta(seconds=expires_in_s)
        await s.commit()


class TestLease:
    async def test_a_run_another_attempt_holds_is_put_back_untouched(
        self, runtime, sessions, user_id
    ) -> None:
        run = await new_run(sessions, user_id, "Add a task to water the plants")
        await _set_lease(sessions, run.id, expires_in_s=10)
        with pytest.raises(RunDeferred):
            await run_chat_job(runtime, run.id)
        run, answer, calls = await reload(sessions, run.id)
        assert (run.status, run.attempts, answer, calls) == (RunStatus.running, 1, None, [])

    async def test_a_lapsed_lease_is_taken_over_and_ended_with_the_run(
        self, runtime, sessions, user_id
    ) -> None:
        run = await new_run(sessions, user_id, "Add a task to water the plants")
        await _set_lease(sessions, run.id, expires_in_s=-1)  # its worker died
        await run_chat_job(runtime, run.id)
        run, answer, calls = await reload(sessions, run.id)
        assert run.status == RunStatus.succeeded and run.attempts == 2 and run.lease_expires_at is None
        assert "Water the plants" in answer.content and [c.name for c in calls] == ["add_task"]

    async def test_a_held_lease_is_renewed_and_given_back_if_the_attempt_fails(
        self, runtime, sessions, user_id, monkeypatch
    ) -> None:
        monkeypatch.setattr(lease, "RENEW_EVERY_S", 0.05)
        keeper = lease.LeaseKeeper(runtime.db)
        run = await new_run(sessions, user_id, "Add a task to water the plants")
        await _set_lease(sessions, run.id, expires_in_s=1)
        with pytest.raises(RuntimeError):
            async with keeper.hold(run.id, 1):
                await asyncio.sleep(0.3)
                renewed = (await reload(sessions, run.id))[0].lease_expires_at
                raise RuntimeError("the attempt fails")
        await keeper.close()
        assert renewed > utcnow() + timedelta(seconds=10)  # renewed to the full lease
        assert (await reload(sessions, run.id))[0].lease_expires_at is None  # its retry need not wait


def _last_output(call) -> dict | None:
    """The newest tool result in a model call's input, as JSON."""
    outputs = [i for i in call.input if isinstance(i, dict) and i.get("type") == "function_call_output"]
    return json.loads(outputs[-1]["output"]) if outputs else None


def _fickle(call):
    """A model that words the same request differently each time: "Buy Milk" where it said "Buy milk",
    and a final answer from the tool result it was given."""
    result = _last_output(call)
    if result is None:
        return [function_call("add_task", {"title": "Buy Milk"}, call_id="call-again")]
    return [assistant_message(f"Added “{result['title']}” (#{result['id']}).")]


async def _ask(model):
    return await model.get_response(
        None,
        [{"role": "user", "content": "Add a task to buy milk"}],
        ModelSettings(),
        [],
        None,
        [],
        ModelTracing.DISABLED,
        previous_response_id=None,
        conversation_id=None,
        prompt=None,
    )


async def _steps(sessions, run_id: int) -> list[ModelStep]:
    async with sessions() as s:
        statement = select(ModelStep).where(ModelStep.run_id == run_id).order_by(col(ModelStep.step))
        return list((await s.exec(statement)).all())


class TestReplay:
    @pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
    async def test_a_retried_run_replays_the_recorded_step_and_asks_the_model_only_for_the_rest(
        self, runtime, sessions, user_id, stream
    ) -> None:
        run = await new_run(sessions, user_id, "Add a task to buy milk")
        dying = ScriptedModel(
            [
                [function_call("add_task", {"title": "Buy milk"}, call_id="call-first")],
                ConnectionError("the worker died while the model thought"),  # not an answer: retried
            ]
        )
        with pytest.raises(ConnectionError):
            await run_chat_job(dataclasses.replace(runtime, model=dying), run.id, stream=stream)
        (step,) = await _steps(sessions, run.id)
        assert (step.step, [(i["type"], i["call_id"], i["arguments"]) for i in step.output]) == (
            0,
            [("function_call", "call-first", '{"title":"Buy milk"}')],
        )
        _, _, (first_call,) = await reload(sessions, run.id)

        fickle = ScriptedModel([ScriptStep.respond(_fickle)] * 2)
        await run_chat_job(dataclasses.replace(runtime, model=fickle), run.id, stream=stream)

        run, answer, calls = await reload(sessions, run.id)
        (asked,) = fickle.calls  # the recorded step was not asked again: only the answer was
        assert asked.streamed is stream
        replayed = [i for i in asked.input if isinstance(i, dict) and i.get("type") == "function_call"]
        assert [(c["call_id"], c["arguments"]) for c in replayed] == [("call-first", '{"title":"Buy milk"}')]
        assert _last_output(asked) == first_call.result  # the tool result the model saw is the original
        assert run.status == RunStatus.succeeded and run.attempts == 2
        assert answer.content == f"Added “Buy milk” (#{first_call.result['id']})."
        assert [(c.id, c.name, c.arguments) for c in calls] == [
            (first_call.id, "add_task", {"title": "Buy milk"})
        ]
        async with sessions() as s:
            assert [t.title for t in (await s.exec(select(Task).where(Task.user_id == user_id))).all()] == [
                "Buy milk"
            ]
        assert await _steps(sessions, run.id) == []  # gone with the finish

    async def test_a_step_whose_calls_never_ran_is_not_recorded_and_the_retry_asks_again(
        self, runtime, sessions, user_id
    ) -> None:
        run = await new_run(sessions, user_id, "Add a task to buy milk")
        noted: list = []
        recording = ReplayModel(
            ScriptedModel([[function_call("add_task", {"title": "Buy milk"}, call_id="c1")]]),
            recorded={},
            unrecorded=noted,
        )
        await _ask(recording)  # the worker dies before the SDK runs the call
        assert [(n["step"], n["output"][0]["call_id"]) for n in noted] == [(0, "c1")]
        assert await _steps(sessions, run.id) == []  # no effect, so nothing to replay
        async with sessions() as s:
            row = await s.get(Run, run.id)
            row.status, row.attempts = RunStatus.running, 1
            await s.commit()
        fickle = ScriptedModel([ScriptStep.respond(_fickle)] * 2)
        await run_chat_job(dataclasses.replace(runtime, model=fickle), run.id)
        run, answer, calls = await reload(sessions, run.id)
        assert len(fickle.calls) == 2 and answer.content.startswith("Added “Buy Milk”")
        assert [(c.name, c.arguments) for c in calls] == [("add_task", {"title": "Buy Milk"})]

    async def test_an_answer_without_tool_calls_is_not_recorded(self, runtime, sessions, user_id) -> None:
        run = await new_run(sessions, user_id, "hello")
        noted: list = []
        model = ReplayModel(ScriptedModel([[assistant_message("Hi!")]]), recorded={}, unrecorded=noted)
        response = await _ask(model)
        assert [i.type for i in response.output] == ["message"] and noted == []
        assert await _steps(sessions, run.id) == []

    async def test_a_step_whose_call_failed_is_recorded_with_the_next_call_that_succeeds(
        self, runtime, sessions, user_id
    ) -> None:
        run = await new_run(sessions, user_id, "Finish task 999999, or add it")
        model = ScriptedModel(
            [
                [function_call("complete_task", {"task_id": 999999}, call_id="try")],
                [function_call("add_task", {"title": "Buy milk"}, call_id="add")],
                ConnectionError("the worker died while the model thought"),
            ]
        )
        with pytest.raises(ConnectionError):
            await run_chat_job(dataclasses.replace(runtime, model=model), run.id)
        steps = await _steps(sessions, run.id)
        assert [(s.step, [i["call_id"] for i in s.output]) for s in steps] == [(0, ["try"]), (1, ["add"])]
        _, _, calls = await reload(sessions, run.id)
        assert [(c.name, c.status) for c in calls] == [("complete_task", "error"), ("add_task", "ok")]

    async def test_two_attempts_at_once_the_first_to_record_a_step_wins(
        self, runtime, sessions, user_id
    ) -> None:
        run = await new_run(sessions, user_id, "Add a task to buy milk")
        # The first attempt (its lease lapsed, its worker still working) records step 0 with its effect...
        first = [function_call("add_task", {"title": "Buy milk"}, call_id="c1")]
        meta = {META_RUN_ID: run.id, META_CALL_KEY: "add_task:first:1"}
        meta[META_STEPS] = [{"step": 0, "output": dump(first)}]
        result = await call_in_process("add_task", {"user_id": user_id, "title": "Buy milk"}, meta)
        assert result.meta == {META_STEPS_RECORDED: 1}
        # ...while the other, which found nothing to replay, was told something else for step 0.
        late = ScriptedModel([[function_call("add_task", {"title": "Buy Milk"}, call_id="c2")]])
        with pytest.raises(RunDeferred):
            await run_chat_job(dataclasses.replace(runtime, model=late), run.id)

        run, answer, calls = await reload(sessions, run.id)
        assert (run.status, run.lease_expires_at, answer) == (RunStatus.running, None, None)
        assert [(c.call_key, c.arguments) for c in calls] == [("add_task:first:1", {"title": "Buy milk"})]
        assert [[i["call_id"] for i in s.output] for s in await _steps(sessions, run.id)] == [["c1"]]
        async with sessions() as s:
            titles = [t.title for t in (await s.exec(select(Task).where(Task.user_id == user_id))).all()]
        assert titles == ["Buy milk"]  # the late attempt's effect was rolled back
