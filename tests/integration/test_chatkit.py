"""The ChatKit protocol on POST /api/{user_id}/chat, at the HTTP level, against a real uvicorn server and a
real Dramatiq worker. Requests are shaped like the ChatKit web client's (chatkit-js `CustomApiConfig`
posts JSON with a `type` and `params` to the one URL, with the `Authorization` header its `fetch` adds).
"""

import asyncio
import json

import httpx
import pytest
from sqlmodel import col, select

from common.devkeys import mint_token
from common.models import Conversation, Message, Role, Run, RunStatus

FRAME_HEADERS = {"chatkit-frame-instance-id": "frame-1", "Origin": "https://app.example.com"}


def user_input(text: str) -> dict:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "quoted_text": None,
        "inference_options": {"tool_choice": None, "model": None},
    }


def op(operation: str, /, **params: object) -> dict:
    return {"type": operation, "params": params, "metadata": {}}


def pk(chatkit_id: str) -> int:
    return int(chatkit_id.split("_", 1)[1])


class ChatKit:
    """A ChatKit client for one user: `send` for JSON operations, `stream` for streaming ones."""

    def __init__(self, http: httpx.AsyncClient, settings, user_id: str) -> None:
        self.http, self.user_id = http, user_id
        self.headers = {"Authorization": f"Bearer {mint_token(settings, user_id)}", **FRAME_HEADERS}
        self.url = f"/api/{user_id}/chat"

    async def send(self, body: dict) -> httpx.Response:
        return await self.http.post(self.url, json=body, headers=self.headers)

    async def stream(self, body: dict, stop_after: int | None = None) -> list[dict]:
        frames: list[dict] = []
        async with self.http.stream("POST", self.url, json=body, headers=self.headers) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    frames.append(json.loads(line[len("data: ") :]))
                    if stop_after is not None and len(frames) >= stop_after:
                        break
        return frames

    async def create(self, text: str) -> tuple[str, list[dict]]:
        frames = await self.stream(op("threads.create", input=user_input(text)))
        return frames[0]["thread"]["id"], frames


def answer(frames: list[dict]) -> dict:
    (done,) = [
        f for f in frames if f["type"] == "thread.item.done" and f["item"]["type"] == "assistant_message"
    ]
    return done["item"]


@pytest.fixture
def alice(http, settings, user_id) -> ChatKit:
    return ChatKit(http, settings, user_id)


@pytest.fixture
def bob(http, settings, user_id) -> ChatKit:
    return ChatKit(http, settings, "bob-" + user_id)


async def assistant_rows(sessions, conversation_id: int) -> list[Message]:
    async with sessions() as s:
        return list(
            (
                await s.exec(
                    select(Message)
                    .where(Message.conversation_id == conversation_id, Message.role == Role.assistant)
                    .order_by(col(Message.id))
                )
            ).all()
        )


class TestStreaming:
    async def test_threads_create_streams_tool_activity_and_the_stored_answer(self, alice, sessions) -> None:
        thread, frames = await alice.create("add a task to buy milk")
        kinds = [f["type"] for f in frames]
        assert kinds[:3] == ["thread.created", "thread.item.done", "stream_options"]
        assert frames[1]["item"]["type"] == "user_message"
        assert frames[1]["item"]["content"] == [{"type": "input_text", "text": "add a task to buy milk"}]

        # Tool activity: a workflow item whose task names the tool, then says what it did.
        (added,) = [f for f in frames if f["type"] == "thread.item.added" and f["item"]["type"] == "workflow"]
        task = added["item"]["workflow"]["tasks"][0]
        assert (task["title"], task["status_indicator"]) == ("add_task", "loading")
        (finished,) = [f for f in frames if f.get("update", {}).get("type") == "workflow.task.updated"]
        assert finished["update"]["task"]["status_indicator"] == "complete"
        assert finished["update"]["task"]["content"].startswith("Added “Buy milk” (task ")

        # The answer streams as text deltas, then the stored message replaces the provisional item.
        deltas = [
            f["update"]["delta"] for f in frames if f.get("update", {}).get("type", "").endswith("text_delta")
        ]
        final = answer(frames)
        assert "".join(deltas) == final["content"][0]["text"] and "Buy milk" in final["content"][0]["text"]
        streamed_id = next(
            f["item"]["id"]
            for f in frames
            if f["type"] == "thread.item.added" and f["item"]["type"] == "assistant_message"
        )
        assert {"type": "thread.item.removed", "item_id": streamed_id} in frames
        assert kinds.index("thread.item.removed") < len(kinds) - 1

        rows = await assistant_rows(sessions, pk(thread))
        assert [(f"msg_{r.id}", r.content) for r in rows] == [(final["id"], final["content"][0]["text"])]
        async with sessions() as s:
            conversation = await s.get(Conversation, pk(thread))
            assert await s.get(Message, pk(streamed_id)) is None
        assert conversation.user_id == alice.user_id and conversation.title == "add a task to buy milk"
        updated = [f for f in frames if f["type"] == "thread.updated"]
        assert updated and updated[-1]["thread"]["title"] == "add a task to buy milk"

    async def test_add_user_message_continues_the_thread_with_its_history(self, alice, sessions) -> None:
        thread, _ = await alice.create("Add a task to call the plumber")
        frames = await alice.stream(
            op("threads.add_user_message", thread_id=thread, input=user_input("mark it as done"))
        )
        assert [f["type"] for f in frames][:2] == ["thread.item.done", "stream_options"]
        assert frames[0]["item"]["thread_id"] == thread
        (task,) = [
            f["item"]["workflow"]["tasks"][0]
            for f in frames
            if f["type"] == "thread.item.added" and f["item"]["type"] == "workflow"
        ]
        assert task["title"] == "complete_task"
        assert "thread.created" not in [f["type"] for f in frames]
        rows = await assistant_rows(sessions, pk(thread))
        assert len(rows) == 2 and f"msg_{rows[-1].id}" == answer(frames)["id"]

    async def test_a_client_that_disconnects_leaves_the_run_going_and_the_answer_lands_once(
        self, alice, sessions
    ) -> None:
        frames = await alice.stream(
            op("threads.create", input=user_input("Add a task to renew the passport")), stop_after=2
        )
        thread = frames[0]["thread"]["id"]
        user_item = frames[1]["item"]["id"]
        async with sessions() as s:
            (run,) = (await s.exec(select(Run).where(Run.user_message_id == pk(user_item)))).all()
        for _ in range(100):
            async with sessions() as s:
                if (await s.get(Run, run.id)).status in (RunStatus.succeeded, RunStatus.failed):
                    break
            await asyncio.sleep(0.1)
        rows = await assistant_rows(sessions, pk(thread))
        assert len(rows) == 1 and "Renew the passport" in rows[0].content
        items = (await alice.send(op("items.list", thread_id=thread, order="asc"))).json()
        assert [i["id"] for i in items["data"]] == [user_item, f"msg_{rows[0].id}"]

    async def test_retry_after_item_replaces_the_answer_with_a_new_run(self, alice, sessions) -> None:
        thread, frames = await alice.create("Add a task to water the plants")
        user_item, first = frames[1]["item"]["id"], answer(frames)
        retried = await alice.stream(op("threads.retry_after_item", thread_id=thread, item_id=user_item))
        assert retried[0]["type"] == "stream_options"
        second = answer(retried)
        assert second["id"] != first["id"] and "Water the plants" in second["content"][0]["text"]
        rows = await assistant_rows(sessions, pk(thread))
        assert [f"msg_{r.id}" for r in rows] == [second["id"]]
        async with sessions() as s:
            runs = (await s.exec(select(Run).where(Run.user_message_id == pk(user_item)))).all()
        assert len(runs) == 2 and all(r.status == RunStatus.succeeded for r in runs)

    async def test_retry_after_an_assistant_item_is_400(self, alice) -> None:
        thread, frames = await alice.create("Add a task to feed the cat")
        response = await alice.send(
            op("threads.retry_after_item", thread_id=thread, item_id=answer(frames)["id"])
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


class TestThreads:
    async def test_get_by_id_list_items_paging_rename_and_delete(self, alice, sessions) -> None:
        thread, _ = await alice.create("Add a task to book the dentist")
        await alice.stream(op("threads.add_user_message", thread_id=thread, input=user_input("what's left?")))
        other, _ = await alice.create("Add a task to pay rent")

        got = (await alice.send(op("threads.get_by_id", thread_id=thread))).json()
        assert (got["id"], got["title"]) == (thread, "Add a task to book the dentist")
        roles = [i["type"] for i in got["items"]["data"]]
        assert roles == ["user_message", "assistant_message", "user_message", "assistant_message"]
        ids = [i["id"] for i in got["items"]["data"]]
        assert ids == sorted(ids, key=pk)

        listed = (await alice.send(op("threads.list", limit=1, order="desc"))).json()
        assert (
            [t["id"] for t in listed["data"]] == [other] and listed["has_more"] and listed["after"] == other
        )
        rest = (await alice.send(op("threads.list", limit=10, order="desc", after=listed["after"]))).json()
        assert [t["id"] for t in rest["data"]] == [thread] and not rest["has_more"]

        page1 = (await alice.send(op("items.list", thread_id=thread, limit=3, order="desc"))).json()
        assert (
            [i["id"] for i in page1["data"]] == ids[::-1][:3]
            and page1["has_more"]
            and page1["after"] == ids[1]
        )
        page2 = (
            await alice.send(op("items.list", thread_id=thread, limit=3, order="desc", after=page1["after"]))
        ).json()
        assert (
            [i["id"] for i in page2["data"]] == [ids[0]]
            and not page2["has_more"]
            and page2.get("after") is None
        )

        renamed = await alice.send(op("threads.update", thread_id=thread, title="Dentist"))
        assert renamed.status_code == 200 and renamed.json()["title"] == "Dentist"
        assert (await alice.send(op("threads.get_by_id", thread_id=thread))).json()["title"] == "Dentist"

        feedback = await alice.send(
            op("items.feedback", thread_id=thread, item_ids=[ids[1]], kind="positive")
        )
        assert feedback.status_code == 200 and feedback.json() == {}

        deleted = await alice.send(op("threads.delete", thread_id=thread))
        assert deleted.status_code == 200 and deleted.json() == {}
        gone = await alice.send(op("threads.get_by_id", thread_id=thread))
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        async with sessions() as s:
            assert await s.get(Conversation, pk(thread)) is None
            assert (await s.exec(select(Message).where(Message.conversation_id == pk(thread)))).all() == []
        left = (await alice.send(op("threads.list", limit=10, order="desc"))).json()
        assert [t["id"] for t in left["data"]] == [other]


class TestIsolation:
    async def test_another_users_thread_is_404_on_every_operation(self, alice, bob, sessions) -> None:
        thread, frames = await alice.create("Add a task to plan the surprise party")
        user_item = frames[1]["item"]["id"]
        attempts = [
            op("threads.get_by_id", thread_id=thread),
            op("items.list", thread_id=thread),
            op("threads.update", thread_id=thread, title="mine now"),
            op("threads.delete", thread_id=thread),
            op("items.feedback", thread_id=thread, item_ids=[user_item], kind="negative"),
            op("threads.add_user_message", thread_id=thread, input=user_input("list my tasks")),
            op("threads.retry_after_item", thread_id=thread, item_id=user_item),
        ]
        for body in attempts:
            response = await bob.send(body)
            assert response.status_code == 404, (body["type"], response.text)
            assert response.headers["content-type"] == "application/json"
            assert response.json()["error"]["code"] == "not_found"
        assert (await bob.send(op("threads.list", limit=20))).json()["data"] == []
        async with sessions() as s:
            conversation = await s.get(Conversation, pk(thread))
            messages = (await s.exec(select(Message).where(Message.conversation_id == pk(thread)))).all()
            bobs = (await s.exec(select(Message).where(Message.user_id == bob.user_id))).all()
        assert (
            conversation.title == "Add a task to plan the surprise party"
            and len(messages) == 2
            and bobs == []
        )

    async def test_path_user_and_token_are_checked_first(self, alice, bob, http) -> None:
        body = op("threads.list", limit=5)
        foreign = await http.post(alice.url, json=body, headers=bob.headers)
        assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "forbidden"
        anonymous = await http.post(alice.url, json=body, headers=FRAME_HEADERS)
        assert anonymous.status_code == 401
        evil = await http.post(
            alice.url, json=body, headers={**alice.headers, "Origin": "https://evil.example.com"}
        )
        assert evil.status_code == 403 and evil.json()["error"]["code"] == "origin_not_allowed"


class TestMalformed:
    @pytest.mark.parametrize(
        "thread", ["thr_0042", "thr_abc", "thr_", "msg_1", "thr_99999999999", "thr_1 ", ""]
    )
    async def test_malformed_thread_ids_are_404(self, alice, thread) -> None:
        for body in (
            op("threads.get_by_id", thread_id=thread),
            op("threads.add_user_message", thread_id=thread, input=user_input("hi")),
        ):
            response = await alice.send(body)
            assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"

    @pytest.mark.parametrize(
        "body",
        [
            {"type": "threads.get_by_id", "params": {}},
            {"type": "threads.create"},
            {"type": "threads.create", "params": {"input": {"content": "hi"}}},
            op("threads.create", input=user_input("   ")),
            op("threads.create", input=user_input("x" * 4001)),
            op("threads.create", input={**user_input("see attached"), "attachments": ["atc_1"]}),
            op("threads.list", limit=-1),
            op("threads.list", order="sideways"),
            op("attachments.create", name="a.txt", size=3, mime_type="text/plain"),
            op("input.transcribe", audio_base64="AAAA", mime_type="audio/webm"),
            op("threads.custom_action", thread_id="thr_1", action={"type": "x", "payload": {}}),
        ],
    )
    async def test_bad_or_unsupported_requests_are_400_and_store_nothing(self, alice, sessions, body) -> None:
        response = await alice.send(body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "bad_request" and response.json()["error"]["message"]
        async with sessions() as s:
            assert (await s.exec(select(Message).where(Message.user_id == alice.user_id))).all() == []

    async def test_bad_titles_are_400(self, alice) -> None:
        thread, _ = await alice.create("Add a task to wash the car")
        for title in ("x" * 201, "nul \x00"):
            response = await alice.send(op("threads.update", thread_id=thread, title=title))
            assert response.status_code == 400

    async def test_bodies_that_are_not_chatkit_keep_the_chat_endpoints_validation(self, alice, http) -> None:
        for body in ({"message": "hi", "type": "threads.unknown"}, {"message": "hi", "type": 1}):
            response = await http.post(alice.url, json=body, headers=alice.headers)
            assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"

    async def test_the_openapi_schema_documents_our_own_body(self, http) -> None:
        schema = (await http.get("/openapi.json")).json()
        body = schema["paths"]["/api/{user_id}/chat"]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/ChatRequest"}
        assert schema["components"]["schemas"]["ChatRequest"]["additionalProperties"] is False


class TestBothProtocols:
    async def test_a_chatkit_thread_reads_as_a_conversation(self, alice, http) -> None:
        thread, frames = await alice.create("Add a task to buy stamps")
        history = await http.get(
            f"/api/{alice.user_id}/conversations/{pk(thread)}/messages", headers=alice.headers
        )
        assert history.status_code == 200
        messages = history.json()["messages"]
        assert [(f"msg_{m['id']}", m["role"]) for m in messages] == [
            (frames[1]["item"]["id"], "user"),
            (answer(frames)["id"], "assistant"),
        ]
        assert messages[1]["content"] == answer(frames)["content"][0]["text"]
        assert [c["name"] for c in messages[1]["tool_calls"]] == ["add_task"]

    async def test_a_conversation_reads_and_continues_as_a_thread(self, alice, http) -> None:
        chat = await http.post(
            alice.url, json={"message": "Add a task to fix the bike"}, headers=alice.headers
        )
        assert chat.status_code == 200
        body = chat.json()
        thread = f"thr_{body['conversation_id']}"
        got = (await alice.send(op("threads.get_by_id", thread_id=thread))).json()
        assert got["title"] == "Add a task to fix the bike"  # untitled: named by its first message
        items = got["items"]["data"]
        assert [i["type"] for i in items] == ["user_message", "assistant_message"]
        assert items[0]["content"] == [{"type": "input_text", "text": "Add a task to fix the bike"}]
        assert (items[1]["id"], items[1]["content"][0]["text"]) == (
            f"msg_{body['message_id']}",
            body["response"],
        )
        frames = await alice.stream(
            op("threads.add_user_message", thread_id=thread, input=user_input("mark it done"))
        )
        assert "thread.updated" not in [f["type"] for f in frames]
        follow_up = (
            await http.get(
                f"/api/{alice.user_id}/conversations/{body['conversation_id']}/messages",
                headers=alice.headers,
            )
        ).json()
        assert f"msg_{follow_up['messages'][-1]['id']}" == answer(frames)["id"]
        assert follow_up["messages"][-1]["tool_calls"][0]["name"] == "complete_task"


class TestTimezone:
    async def test_the_browsers_zone_in_the_request_metadata_is_used_and_remembered(
        self, alice, sessions, user_id
    ) -> None:
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo

        from common.models import Task, UserState

        body = op("threads.create", input=user_input("call mom tomorrow at 5pm"))
        body["metadata"] = {"timezone": "Australia/Sydney"}
        await alice.stream(body)
        async with sessions() as s:
            assert (await s.get(UserState, user_id)).timezone == "Australia/Sydney"
            (task,) = (await s.exec(select(Task).where(Task.user_id == user_id))).all()
        tomorrow = datetime.now(ZoneInfo("Australia/Sydney")).date() + timedelta(days=1)
        assert task.due_at == datetime(
            tomorrow.year, tomorrow.month, tomorrow.day, 17, tzinfo=ZoneInfo("Australia/Sydney")
        )

    async def test_an_unknown_zone_is_a_bad_request_before_any_stream(self, alice, sessions, user_id) -> None:
        body = op("threads.create", input=user_input("add milk"))
        response = await alice.http.post(
            alice.url, json=body, headers={**alice.headers, "X-Timezone": "Atlantis/Capital"}
        )
        assert response.status_code == 400 and "unknown time zone" in response.json()["error"]["message"]
