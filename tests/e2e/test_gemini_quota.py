"""Gemini's quotas against real processes: one `taskchat api` and two `taskchat worker` processes (two
threads each, so that a burst is spread over both) share one pace in Redis, against the fake Gemini
server with a quota. Gemini's minute is scaled down: the pace allows 4 calls in any 1.5 s (1.53 s with
its headroom) across both workers."""

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import own_database
from tests.e2e.conftest import stop, taskchat
from tests.e2e.test_processes import token
from tests.fake_llm import FakeLLM, Quota, tool_then_text
from tests.helpers import free_port, sse_events, wait_for_http
from worker import gemini

WINDOW_S = 1.5 * 1.02


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def stack(settings, fake) -> Iterator[dict[str, Any]]:
    with own_database(settings) as own:  # the session's offline worker would sweep its runs
        yield from _stack(own, fake)


def _stack(settings, fake) -> Iterator[dict[str, Any]]:
    port, metrics = free_port(), [free_port(), free_port()]
    prefix = f"{settings.redis_prefix}-gemini"
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_PREFIX": prefix,  # a queue and a pace of their own
        "LLM_PROVIDER": "gemini",
        "GEMINI_API_KEY": "test-key",
        "GEMINI_BASE_URL": fake.base_url,
        "GEMINI_MODEL": "gemini-2.5-flash",
        "GEMINI_RPM": "4",
        "GEMINI_QUOTA_WINDOW_S": "1.5",
        "GEMINI_MAX_WAIT_S": "30",
        "MODEL_TIMEOUT_S": "10",
        "CHAT_TIMEOUT_S": "60",
        "MAX_INFLIGHT_RUNS_PER_USER": "50",
    }
    started = [
        taskchat("worker", "--processes", "1", "--threads", "2", "--metrics-port", str(m), env=env)
        for m in metrics
    ]
    started.append(taskchat("api", "--host", "127.0.0.1", "--port", str(port), env=env))
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        for m in metrics:
            wait_for_http(f"http://127.0.0.1:{m}/")
        yield {"url": f"http://127.0.0.1:{port}", "metrics": metrics, "prefix": prefix}
    finally:
        for process in started:
            stop(process)


@pytest.fixture
def gemini_stack(stack, fake, settings) -> dict[str, Any]:
    """Each test starts with a fresh pace and a fresh fake."""
    client = redis.Redis.from_url(settings.redis_url)
    for key in client.scan_iter(match=f"{stack['prefix']}:gemini:*"):
        client.delete(key)
    client.close()
    fake.requests.clear()
    fake.pauses.clear()
    fake.set_quota(None)
    chores = re.compile(r"Add a task to (.+)")

    def answer(body: dict[str, Any]):  # type: ignore[no-untyped-def]
        asked = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        title = chores.search(asked).group(1)  # type: ignore[union-attr]
        return tool_then_text("add_task", {"title": title}, f"Added “{title}”.")(body)

    fake.set_script(answer)
    return stack


def model_calls(metrics_port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/").text
    found = re.search(r"^taskchat_model_call_duration_seconds_count (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def chat(http: httpx.AsyncClient, user: str, message: str) -> dict[str, Any]:
    response = await http.post(f"/api/{user}/chat", json={"message": message})
    assert response.status_code == 200, response.text
    return response.json()


class TestGeminiQuotaAcrossWorkers:
    async def test_a_burst_bigger_than_the_quota_is_answered_in_full(
        self, gemini_stack, fake, user_id
    ) -> None:  # type: ignore[no-untyped-def]
        fake.set_quota(Quota(per_window=4, window_s=1.0))  # Gemini's per-minute quota, scaled down
        before = [model_calls(port) for port in gemini_stack["metrics"]]
        headers = {"Authorization": f"Bearer {token(user_id)}"}
        async with httpx.AsyncClient(base_url=gemini_stack["url"], headers=headers, timeout=60) as http:
            chores = [f"water plant {n}" for n in range(7)]
            burst = [asyncio.create_task(chat(http, user_id, f"Add a task to {c}")) for c in chores]
            await asyncio.sleep(0.3)
            # The last one streams: it hears that it waits behind the others.
            streamed_headers = {"Accept": "text/event-stream"}
            body = {"message": "Add a task to feed the cat"}
            async with http.stream(
                "POST", f"/api/{user_id}/chat", json=body, headers=streamed_headers
            ) as sse:
                events = await sse_events(sse)
            answers = await asyncio.gather(*burst)

        # No user-visible error: every chat answered, by the model, as asked.
        assert [a["response"] for a in answers] == [f"Added “{c}”." for c in chores]
        assert [[call["arguments"] for call in a["tool_calls"]] for a in answers] == [
            [{"title": c}] for c in chores
        ]
        names = [e["event"] for e in events]
        assert names[0] == "run" and names[-1] == "done" and "status" in names
        waiting = next(e["data"] for e in events if e["event"] == "status")
        assert waiting["state"] == "waiting" and waiting["reason"] == "pace" and waiting["wait_s"] >= 0.5
        assert events[-1]["data"]["response"] == "Added “feed the cat”."
        # One pace for both workers kept within the quota: at most one refusal, when a loaded machine
        # delays a request's arrival into the next window (it is then retried after RetryInfo's delay).
        statuses = [r.status for r in fake.requests]
        assert statuses.count(200) == 16 and statuses.count(429) <= 1, statuses
        arrivals = sorted(r.at for r in fake.requests)
        assert arrivals[-1] - arrivals[0] >= 3 * WINDOW_S - 0.3  # four windows' worth (arrivals jitter)
        after = [model_calls(port) for port in gemini_stack["metrics"]]
        calls = [a - b for a, b in zip(after, before, strict=True)]
        assert sum(calls) == 16 and min(calls) > 0  # both workers answered model turns

    async def test_a_429_pauses_every_worker_until_its_retry_delay(self, gemini_stack, fake, user_id) -> None:  # type: ignore[no-untyped-def]
        # Someone else uses the same project: Gemini allows us fewer calls than our pace, and says
        # "retry in 2 s" when it refuses one (longer than our own window would wait).
        fake.set_quota(Quota(per_window=3, window_s=1.0, retry_delay_s=2.0))
        before = [model_calls(port) for port in gemini_stack["metrics"]]
        headers = {"Authorization": f"Bearer {token(user_id)}"}
        chores = [
            f"call person {n}" for n in range(6)
        ]  # more than one worker takes (2 threads, 4 prefetched)
        async with httpx.AsyncClient(base_url=gemini_stack["url"], headers=headers, timeout=60) as http:
            answers = await asyncio.gather(*(chat(http, user_id, f"Add a task to {c}") for c in chores))

        assert [a["response"] for a in answers] == [f"Added “{c}”." for c in chores]
        limited = [r for r in fake.requests if r.status == 429]
        assert limited and all("PerMinute" in r.error for r in limited)
        # After each 429, nobody — on either worker — sent anything until its retryDelay had passed.
        assert fake.early == []
        assert [r.status for r in fake.requests].count(200) == 12
        after = [model_calls(port) for port in gemini_stack["metrics"]]
        assert min(a - b for a, b in zip(after, before, strict=True)) > 0  # both workers were sending

    async def test_a_used_up_daily_quota_is_answered_at_once(self, gemini_stack, fake, user_id) -> None:  # type: ignore[no-untyped-def]
        fake.set_quota(Quota(per_day=0))
        headers = {"Authorization": f"Bearer {token(user_id)}"}
        async with httpx.AsyncClient(base_url=gemini_stack["url"], headers=headers, timeout=60) as http:
            started = time.monotonic()
            first = await chat(http, user_id, "Add a task to buy milk")
            elapsed = time.monotonic() - started
            second = await chat(http, user_id, "Add a task to buy bread")

        assert first["response"] == second["response"] == gemini.DAILY
        assert first["tool_calls"] == second["tool_calls"] == []
        assert elapsed < 3.0
        assert [r.status for r in fake.requests] == [429]  # no retry; the second chat sent nothing
