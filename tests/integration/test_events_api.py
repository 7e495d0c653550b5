"""`GET /api/{user_id}/events` over real HTTP (a uvicorn server in a thread, the in-thread Dramatiq worker,
PostgreSQL and Redis): task changes made by another client arrive live, a reminder arrives at its time
through the queue, and a dropped stream resumes with `Last-Event-ID` without gaps or duplicates."""

import asyncio
import weakref
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis.asyncio as aredis
from fastmcp import Client
from sqlalchemy import update

from common.devkeys import mint_token
from common.models import Event
from common.userevents import AfterCommit
from mcp_tools.server import bind_database, mcp
from tests.helpers import sse_events
from worker.sweeper import prune_events

STREAM = {"Accept": "text/event-stream"}


@pytest.fixture
async def tools(db, settings):
    """Another client: the MCP tools in this process, telling the same Redis as the API listens to."""
    client = aredis.Redis.from_url(settings.redis_url)
    bind_database(db, AfterCommit(client, settings))
    async with Client(mcp) as c:
        yield c
    bind_database(db)
    await client.aclose()


async def change(tools: Client, user_id: str, title: str, **arguments: object) -> dict:
    result = await tools.call_tool_mcp("add_task", {"user_id": user_id, "title": title, **arguments})
    assert not result.is_error, result.content[0].text
    return result.structured_content


class _Lines:
    """One line iterator per response, so that a stream is read in several goes."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    def aiter_lines(self):
        return self.lines


_readers: "weakref.WeakKeyDictionary[httpx.Response, _Lines]" = weakref.WeakKeyDictionary()


async def read(response: httpx.Response, count: int, timeout_s: float = 10.0) -> list[dict]:
    reader = _readers.setdefault(response, _Lines(response))
    async with asyncio.timeout(timeout_s):
        return await sse_events(reader, stop_after=count)


def headers(auth: dict, last_event_id: int | None = None) -> dict:
    extra = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    return {**auth, **STREAM, **extra}


class TestLive:
    async def test_a_change_by_another_client_arrives_at_once(self, http, tools, auth, user_id) -> None:
        async with http.stream("GET", f"/api/{user_id}/events", headers=headers(auth)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            (ready,) = await read(response, 1)
            assert (ready["event"], ready["id"], ready["data"]) == ("ready", "0", {"last_event_id": 0})
            task = await change(tools, user_id, "Buy milk", priority="high")
            (event,) = await read(response, 1, timeout_s=5)
        assert (event["event"], event["id"]) == ("task", "1")
        assert event["data"]["change"] == "added" and event["data"]["task"] == task

    async def test_a_reminder_arrives_at_its_time_through_the_queue(self, http, tools, auth, user_id) -> None:
        async with http.stream("GET", f"/api/{user_id}/events", headers=headers(auth)) as response:
            await read(response, 1)
            at = datetime.now(UTC) + timedelta(seconds=2)
            task = await change(tools, user_id, "Stretch", remind_at=at.isoformat())
            added, reminder = await read(response, 2, timeout_s=15)
            arrived = datetime.now(UTC)
        assert (added["event"], reminder["event"]) == ("task", "reminder")
        assert reminder["id"] == "2" and reminder["data"]["task_id"] == task["id"]
        assert reminder["data"]["text"] == "Reminder: Stretch"
        assert arrived >= at  # not before its time

        messages = await http.get(
            f"/api/{user_id}/conversations/{reminder['data']['conversation_id']}/messages", headers=auth
        )
        assert [(m["role"], m["content"]) for m in messages.json()["messages"]] == [
            ("assistant", "Reminder: Stretch")
        ]


class TestResume:
    async def test_last_event_id_gets_exactly_what_came_after(self, http, tools, auth, user_id) -> None:
        for n in range(5):
            await change(tools, user_id, f"Task {n}")
        async with http.stream("GET", f"/api/{user_id}/events", headers=headers(auth, 2)) as response:
            backlog = await read(response, 3)
            await change(tools, user_id, "Task 5")
            (live,) = await read(response, 1, timeout_s=5)
        assert [(e["id"], e["data"]["task"]["title"]) for e in backlog] == [
            ("3", "Task 2"),
            ("4", "Task 3"),
            ("5", "Task 4"),
        ]
        assert (live["id"], live["data"]["task"]["title"]) == ("6", "Task 5")

    async def test_a_stream_dropped_again_and_again_while_changes_go_on_misses_nothing(
        self, http, tools, auth, user_id
    ) -> None:
        total = 40

        async def writer() -> None:
            for n in range(total):
                await change(tools, user_id, f"Task {n}")
                await asyncio.sleep(0.01)

        writing = asyncio.create_task(writer())
        seen: list[int] = []
        try:
            while len(seen) < total:
                last = seen[-1] if seen else None
                count = min(4, total - len(seen)) + (1 if last is None else 0)  # `ready` first
                async with http.stream("GET", f"/api/{user_id}/events", headers=headers(auth, last)) as r:
                    for event in await read(r, count):  # then drop it
                        if event["event"] == "task":
                            seen.append(int(event["id"]))
        finally:
            await writing
        assert seen == list(range(1, total + 1))

    async def test_events_no_longer_kept_or_unknown_ask_for_a_reload(
        self, http, tools, db, auth, user_id
    ) -> None:
        for n in range(3):
            await change(tools, user_id, f"Task {n}")
        async with http.stream("GET", f"/api/{user_id}/events", headers=headers(auth, 99)) as response:
            (unknown,) = await read(response, 1)
        await db.execute(update(Event).where(Event.user_id == user_id, Event.seq <= 2).values(
            created_at=datetime.now(UTC) - timedelta(days=3)
        ))  # fmt: skip
        await prune_events(db, keep=timedelta(hours=24))
        async with http.stream("GET", f"/api/{user_id}/events", headers=headers(auth, 1)) as response:
            expired, *rest = await read(response, 1)
        async with http.stream("GET", f"/api/{user_id}/events", headers=headers(auth, 2)) as response:
            (kept,) = await read(response, 1)
        assert (unknown["event"], unknown["id"], unknown["data"]) == (
            "resync",
            "3",
            {"reason": "unknown", "last_event_id": 3},
        )
        assert (expired["event"], expired["data"]["reason"], rest) == ("resync", "expired", [])
        assert (kept["event"], kept["id"]) == ("task", "3")  # 2 was seen: nothing is missing


class TestAccess:
    async def test_the_chat_endpoints_rules(self, http, settings, auth, user_id) -> None:
        url = f"/api/{user_id}/events"
        missing = await http.get(url)
        other = await http.get(
            url, headers={"Authorization": f"Bearer {mint_token(settings, 'someone-else')}"}
        )
        origin = await http.get(url, headers={**auth, "Origin": "https://evil.example"})
        bad_id = await http.get(url, headers={**auth, "Last-Event-ID": "yesterday"})
        assert (missing.status_code, missing.json()["error"]["code"]) == (401, "unauthorized")
        assert (other.status_code, other.json()["error"]["code"]) == (403, "forbidden")
        assert (origin.status_code, origin.json()["error"]["code"]) == (403, "origin_not_allowed")
        assert bad_id.status_code == 422

    async def test_an_allowed_origin_gets_the_stream_with_cors(self, http, auth, user_id) -> None:
        allowed = {**auth, "Origin": "https://app.example.com"}
        async with http.stream("GET", f"/api/{user_id}/events", headers=allowed) as response:
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == "https://app.example.com"
            (ready,) = await read(response, 1)
        assert ready["event"] == "ready"

    async def test_another_users_changes_never_arrive(self, http, tools, auth, user_id) -> None:
        async with http.stream("GET", f"/api/{user_id}/events", headers=headers(auth)) as response:
            await read(response, 1)
            await change(tools, f"{user_id}-other", "Not yours")
            await change(tools, user_id, "Yours")
            (event,) = await read(response, 1, timeout_s=5)
        assert event["data"]["task"]["title"] == "Yours" and event["id"] == "1"
