"""The streaming mode of POST /api/{user_id}/chat against real processes and a real streaming client,
with a deliberately slow model so that events arrive over time."""

import uuid

import httpx
import pytest
import redis.asyncio as aredis
from sqlmodel import select

from common.devkeys import mint_token
from common.events import stream_key
from common.models import Message, Role, Run
from tests.helpers import sse_events

SSE = {"Accept": "text/event-stream"}


@pytest.fixture
def headers(settings, user_id):
    return {"Authorization": f"Bearer {mint_token(settings, user_id)}", "Idempotency-Key": uuid.uuid4().hex}


async def stream(http, url, user_id, headers, message, stop_after=None, **extra):
    async with http.stream(
        "POST", f"{url}/api/{user_id}/chat", json={"message": message}, headers={**headers, **SSE, **extra}
    ) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        return await sse_events(response, stop_after)


class TestStreaming:
    async def test_events_arrive_in_order_and_done_equals_the_json_answer(
        self, slow_stack, user_id, headers
    ) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            events = await stream(http, slow_stack, user_id, headers, "Add a task to buy milk")
            as_json = await http.post(
                f"{slow_stack}/api/{user_id}/chat",
                json={"message": "Add a task to buy milk"},
                headers=headers,
            )
        names = [e["event"] for e in events]
        assert names[0] == "run" and names[-1] == "done"
        assert names.index("tool_call") < names.index("tool_result") < names.index("delta")
        assert [int(e["id"]) for e in events] == list(range(len(events)))
        assert events[0]["data"]["run_id"] == events[-1]["data"]["run_id"]
        assert events[-1]["data"] == as_json.json()
        text = "".join(e["data"]["text"] for e in events if e["event"] == "delta")
        assert text == as_json.json()["response"]
        assert events[-1]["at"] - events[0]["at"] > 0.5  # streamed over time, not buffered

    async def test_errors_before_the_stream_are_plain_http(self, slow_stack, user_id, headers) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            bad = await http.post(
                f"{slow_stack}/api/{user_id}/chat", json={"message": ""}, headers={**headers, **SSE}
            )
            anon = await http.post(f"{slow_stack}/api/{user_id}/chat", json={"message": "hi"}, headers=SSE)
            missing = await http.post(
                f"{slow_stack}/api/{user_id}/chat",
                json={"message": "hi", "conversation_id": 2_000_000_000},
                headers={**headers, **SSE},
            )
        assert (bad.status_code, anon.status_code, missing.status_code) == (422, 401, 404)
        assert bad.json()["error"]["code"] == "validation_error"

    async def test_disconnect_then_resume_without_gap_duplicate_or_second_run(
        self, slow_stack, sessions, user_id, headers
    ) -> None:
        message = "Add two tasks: call the bank and book the dentist"
        async with httpx.AsyncClient(timeout=30) as http:
            first = await stream(http, slow_stack, user_id, headers, message, stop_after=3)  # then drop
            last = first[-1]["id"]
            rest = await stream(http, slow_stack, user_id, headers, message, **{"Last-Event-ID": last})
        ids = [int(e["id"]) for e in first + rest]
        assert ids == list(range(len(ids)))
        assert rest[-1]["event"] == "done"
        assert len(rest[-1]["data"]["tool_calls"]) == 2
        async with sessions() as s:
            runs = (await s.exec(select(Run).where(Run.user_id == user_id))).all()
            questions = (
                await s.exec(select(Message).where(Message.user_id == user_id, Message.role == Role.user))
            ).all()
        assert len(runs) == 1 and len(questions) == 1

    async def test_a_dropped_client_does_not_cancel_the_run(
        self, slow_stack, sessions, user_id, headers
    ) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            (accepted,) = await stream(
                http, slow_stack, user_id, headers, "Add a task to water the plants", stop_after=1
            )
            result = await http.post(
                f"{slow_stack}/api/{user_id}/chat",  # JSON mode, same key: waits for the same run
                json={"message": "Add a task to water the plants"},
                headers=headers,
            )
        assert result.status_code == 200 and result.json()["run_id"] == accepted["data"]["run_id"]
        async with sessions() as s:
            answer = await s.get(Message, result.json()["message_id"])
        assert "Water the plants" in answer.content

    async def test_replay_is_rebuilt_from_postgres_once_redis_forgot(
        self, slow_stack, settings, user_id, headers
    ) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            live = await stream(http, slow_stack, user_id, headers, "Add a task to renew my passport")
            run_id = live[0]["data"]["run_id"]
            client = aredis.Redis.from_url(settings.redis_url)
            await client.delete(stream_key(f"{settings.redis_prefix}-slow", run_id))
            await client.aclose()
            rebuilt = await stream(http, slow_stack, user_id, headers, "Add a task to renew my passport")
            resumed = await stream(
                http,
                slow_stack,
                user_id,
                headers,
                "Add a task to renew my passport",
                **{"Last-Event-ID": "2"},
            )
        assert [e["event"] for e in rebuilt] == ["run", "tool_call", "tool_result", "delta", "done"]
        assert rebuilt[-1]["data"] == live[-1]["data"]
        assert [e["event"] for e in resumed] == ["done"] and int(resumed[0]["id"]) > 2
        assert resumed[0]["data"] == live[-1]["data"]
