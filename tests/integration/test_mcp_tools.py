"""The MCP task server through a real MCP client, on real PostgreSQL."""

import pytest
from fastmcp import Client
from sqlmodel import select

from common.models import Conversation, Event, Message, ModelStep, Role, Run, Task, ToolCall, UserState
from mcp_tools.ledger import (
    META_CALL_KEY,
    META_REPLAY,
    META_RUN_ID,
    META_STEPS,
    META_STEPS_RECORDED,
    StepConflict,
)
from mcp_tools.server import call_in_process, mcp


@pytest.fixture
async def client(sessions):
    async with Client(mcp) as c:
        yield c


async def call(client: Client, name: str, **arguments: object):
    return await client.call_tool_mcp(name, arguments)


class TestToolDefinitions:
    async def test_the_five_tools_and_list_reminders_with_output_schemas_and_annotations(
        self, client
    ) -> None:
        tools = {t.name: t for t in await client.list_tools()}
        five = {"add_task", "list_tasks", "complete_task", "delete_task", "update_task"}
        assert set(tools) == five | {"list_reminders"}
        for tool in tools.values():
            assert "user_id" in tool.input_schema["required"]
            assert tool.output_schema is not None and tool.description
        assert tools["list_tasks"].annotations.read_only_hint is True
        assert tools["delete_task"].annotations.destructive_hint is True
        assert tools["add_task"].input_schema["properties"]["title"]["maxLength"] == 200


class TestTaskTools:
    async def test_add_list_complete_update_delete(self, client, sessions, user_id) -> None:
        added = (
            await call(client, "add_task", user_id=user_id, title="  Buy milk ", description="2 litres")
        ).structured_content
        assert (
            added["title"] == "Buy milk"
            and added["description"] == "2 litres"
            and added["completed"] is False
        )
        task_id = added["id"]

        done = (await call(client, "complete_task", user_id=user_id, task_id=task_id)).structured_content
        assert done["completed"] is True
        pending = (await call(client, "list_tasks", user_id=user_id, status="pending")).structured_content
        completed = (await call(client, "list_tasks", user_id=user_id, status="completed")).structured_content
        assert pending == {"tasks": []} and [t["id"] for t in completed["tasks"]] == [task_id]

        updated = (
            await call(client, "update_task", user_id=user_id, task_id=task_id, title="Buy oat milk")
        ).structured_content
        assert (updated["title"], updated["description"]) == ("Buy oat milk", "2 litres")

        deleted = (await call(client, "delete_task", user_id=user_id, task_id=task_id)).structured_content
        assert deleted["id"] == task_id
        async with sessions() as s:
            assert (await s.exec(select(Task).where(Task.user_id == user_id))).all() == []

    @pytest.mark.parametrize("title", ["", "   ", "x" * 201])
    async def test_bad_titles_are_clear_tool_errors(self, client, sessions, user_id, title) -> None:
        result = await call(client, "add_task", user_id=user_id, title=title)
        assert result.is_error
        assert "Title must" in result.content[0].text
        async with sessions() as s:
            assert (await s.exec(select(Task).where(Task.user_id == user_id))).all() == []

    async def test_another_users_task_is_not_found(self, client, sessions, user_id) -> None:
        task = (await call(client, "add_task", user_id=user_id, title="secret")).structured_content
        for name, extra in (("complete_task", {}), ("delete_task", {}), ("update_task", {"title": "pwned"})):
            result = await call(client, name, user_id="intruder", task_id=task["id"], **extra)
            assert result.is_error and result.content[0].text == f"Task {task['id']} not found"
        listing = (await call(client, "list_tasks", user_id="intruder")).structured_content
        assert all(t["id"] != task["id"] for t in listing["tasks"])
        async with sessions() as s:
            row = await s.get(Task, task["id"])
            assert (row.title, row.completed) == ("secret", False)

    async def test_sql_looking_and_unicode_titles_are_stored_verbatim(self, client, user_id) -> None:
        for title in ("'); DROP TABLE task; --", "买牛奶 🥛", "Ñandú <b>bold</b>"):
            added = (await call(client, "add_task", user_id=user_id, title=title)).structured_content
            assert added["title"] == title


class TestRunLedger:
    async def _run(self, sessions, user_id):
        async with sessions() as s:
            conversation = Conversation(user_id=user_id)
            s.add(conversation)
            await s.flush()
            message = Message(user_id=user_id, conversation_id=conversation.id, role=Role.user, content="x")
            s.add(message)
            await s.flush()
            run = Run(user_id=user_id, conversation_id=conversation.id, user_message_id=message.id)
            s.add(run)
            await s.commit()
            return run.id

    async def test_a_repeated_call_of_a_run_is_replayed_not_repeated(self, client, sessions, user_id) -> None:
        run_id = await self._run(sessions, user_id)
        meta = {META_RUN_ID: run_id, META_CALL_KEY: "add_task:abc:1", META_REPLAY: True}
        first = await client.call_tool_mcp("add_task", {"user_id": user_id, "title": "once"}, meta=meta)
        again = await client.call_tool_mcp("add_task", {"user_id": user_id, "title": "once"}, meta=meta)
        assert first.structured_content == again.structured_content
        async with sessions() as s:
            assert len((await s.exec(select(Task).where(Task.user_id == user_id))).all()) == 1
            calls = (await s.exec(select(ToolCall).where(ToolCall.run_id == run_id))).all()
        assert [(c.seq, c.name, c.arguments, c.status) for c in calls] == [
            (1, "add_task", {"title": "once"}, "ok")
        ]
        # The change's event went with the ledger row, numbered once: the replay added none.
        assert await _events(sessions, user_id) == ([(1, "added", first.structured_content["id"])], 1)

    async def test_errors_are_recorded_and_replayed(self, client, sessions, user_id) -> None:
        run_id = await self._run(sessions, user_id)
        meta = {META_RUN_ID: run_id, META_CALL_KEY: "delete_task:x:1", META_REPLAY: True}
        for _ in range(2):
            result = await client.call_tool_mcp(
                "delete_task", {"user_id": user_id, "task_id": 999999}, meta=meta
            )
            assert result.is_error and result.content[0].text == "Task 999999 not found"
        async with sessions() as s:
            calls = (await s.exec(select(ToolCall).where(ToolCall.run_id == run_id))).all()
        assert [(c.status, c.error) for c in calls] == [("error", "Task 999999 not found")]

    async def test_without_the_replay_flag_a_repeated_key_fails_and_changes_nothing(
        self, client, sessions, user_id
    ) -> None:
        run_id = await self._run(sessions, user_id)
        meta = {META_RUN_ID: run_id, META_CALL_KEY: "add_task:dup:1"}
        first = await client.call_tool_mcp("add_task", {"user_id": user_id, "title": "once"}, meta=meta)
        second = await client.call_tool_mcp("add_task", {"user_id": user_id, "title": "once"}, meta=meta)
        assert not first.is_error and second.is_error
        async with sessions() as s:
            assert len((await s.exec(select(Task).where(Task.user_id == user_id))).all()) == 1
        # The refused call's event and number were rolled back with its effect.
        assert await _events(sessions, user_id) == ([(1, "added", first.structured_content["id"])], 1)

    async def test_a_run_of_another_user_cannot_be_written_to(self, client, sessions, user_id) -> None:
        run_id = await self._run(sessions, user_id)
        meta = {META_RUN_ID: run_id, META_CALL_KEY: "add_task:y:1"}
        result = await client.call_tool_mcp("add_task", {"user_id": "intruder", "title": "x"}, meta=meta)
        assert result.is_error
        async with sessions() as s:
            assert (
                await s.exec(select(Task).where(Task.user_id == "intruder", Task.title == "x"))
            ).all() == []
        assert await _events(sessions, "intruder") == ([], None)

    async def test_a_call_records_the_model_steps_it_comes_from_and_refuses_a_conflicting_one(
        self, client, sessions, user_id
    ) -> None:
        run_id = await self._run(sessions, user_id)
        step = {"step": 0, "output": [{"type": "function_call", "call_id": "c1", "name": "add_task"}]}

        async def add(key: str, title: str, steps: list) -> object:
            meta = {META_RUN_ID: run_id, META_CALL_KEY: key, META_STEPS: steps}
            return await call_in_process("add_task", {"user_id": user_id, "title": title}, meta)

        first = await add("add_task:a:1", "milk", [step])
        # The same response's second call gives the same step: it is already there, and agrees.
        second = await add("add_task:b:1", "eggs", [step])
        assert first.meta == second.meta == {META_STEPS_RECORDED: 1}
        other = {**step, "output": [{"type": "function_call", "call_id": "c2", "name": "add_task"}]}
        with pytest.raises(StepConflict):
            await add("add_task:c:1", "bread", [other])

        async with sessions() as s:
            titles = [t.title for t in (await s.exec(select(Task).where(Task.user_id == user_id))).all()]
            calls = (await s.exec(select(ToolCall).where(ToolCall.run_id == run_id))).all()
            steps = (await s.exec(select(ModelStep).where(ModelStep.run_id == run_id))).all()
        assert sorted(titles) == ["eggs", "milk"]  # the refused call's effect was rolled back
        assert [c.call_key for c in calls] == ["add_task:a:1", "add_task:b:1"]
        assert [(s.step, s.output) for s in steps] == [(0, step["output"])]
        feed, last = await _events(sessions, user_id)
        assert (len(feed), last) == (2, 2)


async def _events(sessions, user_id: str) -> tuple[list[tuple[int, str, int]], int | None]:
    """The user's feed (number, change, task id) and the last number their row holds."""
    async with sessions() as s:
        events = (await s.exec(select(Event).where(Event.user_id == user_id).order_by(Event.seq))).all()
        state = await s.get(UserState, user_id)
    feed = [(e.seq, e.data["change"], e.data["task"]["id"]) for e in events]
    return feed, state.event_seq if state else None
