"""Reminder delivery with real `taskchat worker` processes on real PostgreSQL and Redis (issue #18): two
workers racing for one reminder, a worker SIGKILLed in the middle of a delivery, a Redis restart that
loses the scheduled messages. Each reminder is delivered exactly once: one assistant message, one event.
And bad input end to end: a time in the past schedules nothing, a cancelled reminder's message delivers
nothing, the 500-reminder cap is a clear answer."""

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import psutil
import redis.asyncio as aredis
from fastmcp import Client
from sqlalchemy import column, func, insert, table
from sqlmodel import col, select

from common.devkeys import mint_token
from common.models import Conversation, Event, Message, Reminder, ReminderStatus, Role, Task
from common.userevents import AfterCommit
from mcp_tools.server import bind_database, mcp
from mcp_tools.tasks import MAX_ACTIVE_REMINDERS
from tests.e2e.conftest import stop, taskchat
from tests.e2e.test_faults import PrivateRedis, start_stack, wait_for
from tests.helpers import free_port

ACTIVITY = table(
    "pg_stat_activity", column("pid"), column("datname"), column("wait_event_type"), column("client_port")
)


def stack_env(settings, **extra: str) -> dict[str, str]:
    return {
        "REDIS_PREFIX": f"{settings.redis_prefix}-rem{uuid.uuid4().hex[:6]}",
        "SWEEP_QUEUED_AFTER_S": "2",
        "SWEEP_INTERVAL_S": "1",
        **extra,
    }


@contextlib.asynccontextmanager
async def tools_of(db, settings, env: dict[str, str]) -> AsyncIterator[Client]:
    """The MCP tools in this process, scheduling into the stack's queues (as a worker's tools would)."""
    own = settings.model_copy(
        update={"redis_prefix": env["REDIS_PREFIX"], "redis_url": env.get("REDIS_URL", settings.redis_url)}
    )
    redis_client = aredis.Redis.from_url(own.redis_url, socket_connect_timeout=1, socket_timeout=2)
    bind_database(db, AfterCommit(redis_client, own))
    try:
        async with Client(mcp) as client:
            yield client
    finally:
        bind_database(db)
        await redis_client.aclose()


async def add(client: Client, user_id: str, title: str, at: datetime) -> dict:
    result = await client.call_tool_mcp(
        "add_task", {"user_id": user_id, "title": title, "remind_at": at.isoformat()}
    )
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def delivered(sessions, users: list[str]) -> tuple[list[Reminder], list[Message], list[Event]]:
    async with sessions() as s:
        reminders = list((await s.exec(select(Reminder).where(col(Reminder.user_id).in_(users)))).all())
        messages = list(
            (
                await s.exec(
                    select(Message).where(col(Message.user_id).in_(users), Message.role == Role.assistant)
                )
            ).all()
        )
        events = list(
            (await s.exec(select(Event).where(col(Event.user_id).in_(users), Event.kind == "reminder"))).all()
        )
    return reminders, messages, events


def assert_each_delivered_once(
    reminders: list[Reminder], messages: list[Message], events: list[Event]
) -> None:
    assert reminders and all(r.status == ReminderStatus.delivered for r in reminders)
    assert sorted(r.message_id for r in reminders) == sorted(m.id for m in messages)  # one message each
    assert sorted(e.data["reminder_id"] for e in events) == sorted(r.id for r in reminders)  # one event each
    by_id = {m.id: m for m in messages}
    for reminder in reminders:
        assert by_id[reminder.message_id].content.startswith("Reminder: ")


async def waiting_backends(db, database: str) -> list[dict]:
    """Backends of the test database waiting for a lock."""
    rows = await db.all(
        select(ACTIVITY.c.pid, ACTIVITY.c.client_port).where(
            ACTIVITY.c.datname == database, ACTIVITY.c.wait_event_type == "Lock"
        )
    )
    return [dict(row) for row in rows]


def database_ports(leader: "psutil.Process") -> set[int]:
    """The local ports of a `taskchat worker`'s connections to PostgreSQL (its forked processes')."""
    ports = set()
    for process in [leader, *leader.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            ports |= {
                c.laddr.port for c in process.net_connections(kind="tcp") if c.raddr and c.raddr.port == 5432
            }
    return ports


async def queue_lengths(redis_url: str, prefix: str) -> list[int]:
    client = aredis.Redis.from_url(redis_url)
    try:
        return [await client.llen(f"{prefix}:dramatiq:{queue}") for queue in ("reminders", "reminders.DQ")]
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def locked(db, statement) -> AsyncIterator[None]:
    """Holds the row locks of `statement` (a SELECT … FOR UPDATE) until the block ends."""
    async with db.transaction() as conn:
        assert (await conn.execute(statement)).first() is not None
        yield


class TestTwoWorkersRacing:
    async def test_two_worker_processes_waiting_on_one_reminder_deliver_it_once(
        self, db, sessions, settings, user_id
    ) -> None:
        env = stack_env(settings)
        url, processes = start_stack(env, workers=2)
        try:
            async with tools_of(db, settings, env) as tools:
                task = await add(tools, user_id, "Stretch", datetime.now(UTC) + timedelta(seconds=1.5))
                async with sessions() as s:
                    reminder = (await s.exec(select(Reminder).where(Reminder.task_id == task["id"]))).one()
                sender = AfterCommit(aredis.Redis.from_url(settings.redis_url), settings.model_copy(
                    update={"redis_prefix": env["REDIS_PREFIX"]}
                ))  # fmt: skip
                # Hold the reminder: every delivery attempt waits on its row lock, inside its transaction.
                async with locked(
                    db, select(Reminder.id).where(Reminder.id == reminder.id).with_for_update()
                ):
                    for _ in range(8):  # extra copies: idle consumers take turns, so both workers get some
                        await sender.deliver_now([reminder.id])
                        await asyncio.sleep(0.2)

                    async def both_waiting() -> bool:
                        ports = {b["client_port"] for b in await waiting_backends(db, db.engine.url.database)}
                        owners = [ports & database_ports(psutil.Process(p.pid)) for p in processes[:2]]
                        return all(owners)

                    await wait_for(both_waiting, timeout_s=15)
                await sender.redis.aclose()

                async def done() -> bool:
                    return (await delivered(sessions, [user_id]))[0][0].status == ReminderStatus.delivered

                await wait_for(done, timeout_s=15)
                await asyncio.sleep(2)  # the waiting attempts finish: as no-ops
        finally:
            for process in processes:
                stop(process)
        reminders, messages, events = await delivered(sessions, [user_id])
        assert_each_delivered_once(reminders, messages, events)
        assert len(messages) == 1 and messages[0].content == "Reminder: Stretch"

    async def test_many_reminders_at_once_with_duplicate_messages_are_each_delivered_once(
        self, db, sessions, settings
    ) -> None:
        env = stack_env(settings)
        url, processes = start_stack(env, workers=2)
        users = [f"race-{uuid.uuid4().hex[:8]}" for _ in range(10)]
        try:
            async with tools_of(db, settings, env) as tools:
                # Far enough ahead that the 80 adds are made before it, on a loaded machine too.
                at = datetime.now(UTC) + timedelta(seconds=15)
                added = [await add(tools, user, f"Task {n}", at) for user in users for n in range(8)]
                async with sessions() as s:
                    ids = [
                        r.id
                        for r in (
                            await s.exec(select(Reminder).where(col(Reminder.user_id).in_(users)))
                        ).all()
                    ]
                sender = AfterCommit(aredis.Redis.from_url(settings.redis_url), settings.model_copy(
                    update={"redis_prefix": env["REDIS_PREFIX"]}
                ))  # fmt: skip
                await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))
                for _ in range(3):  # every reminder three times more, while its delayed message fires
                    await sender.deliver_now(ids)
                    await asyncio.sleep(0.1)
                await sender.redis.aclose()

                async def all_delivered() -> bool:
                    reminders = (await delivered(sessions, users))[0]
                    return all(r.status == ReminderStatus.delivered for r in reminders)

                await wait_for(all_delivered, timeout_s=30)
                await asyncio.sleep(2)
        finally:
            for process in processes:
                stop(process)
        reminders, messages, events = await delivered(sessions, users)
        assert len(reminders) == len(added) == 80
        assert_each_delivered_once(reminders, messages, events)


class TestKilledWorker:
    async def test_a_worker_killed_in_the_middle_of_a_delivery_leaves_it_to_the_next(
        self, db, sessions, settings, user_id
    ) -> None:
        env = stack_env(settings)
        url, processes = start_stack(env)
        headers = {"Authorization": f"Bearer {mint_token(settings, user_id)}"}
        try:
            async with httpx.AsyncClient(timeout=30, headers=headers) as http:
                said = await http.post(f"{url}/api/{user_id}/chat", json={"message": "hello"})
                conversation = said.json()["conversation_id"]
            async with tools_of(db, settings, env) as tools:
                await add(tools, user_id, "Stretch", datetime.now(UTC) + timedelta(seconds=2))
            # The delivery claims the reminder, then waits for the conversation this test holds.
            hold = select(Conversation.id).where(Conversation.id == conversation).with_for_update()
            async with locked(db, hold):
                worker_ports = database_ports(psutil.Process(processes[0].pid))

                async def delivery_waits() -> bool:
                    ports = {b["client_port"] for b in await waiting_backends(db, db.engine.url.database)}
                    return bool(ports & worker_ports)

                await wait_for(delivery_waits, timeout_s=15)
                os.killpg(processes[0].pid, signal.SIGKILL)  # the worker, mid-transaction
                processes[0].wait()
            await asyncio.sleep(1)  # its backend notices the dead client and rolls back
            async with sessions() as s:
                (reminder,) = (await s.exec(select(Reminder).where(Reminder.user_id == user_id))).all()
            assert reminder.status == ReminderStatus.pending  # nothing of the killed delivery stayed
            assert len((await delivered(sessions, [user_id]))[1]) == 1  # the chat's own answer only

            processes[0] = taskchat("worker", "--processes", "1", "--threads", "16", env=env)

            async def done() -> bool:
                return (await delivered(sessions, [user_id]))[0][0].status == ReminderStatus.delivered

            await wait_for(done, timeout_s=30)
            await asyncio.sleep(2)
        finally:
            for process in processes:
                stop(process)
        reminders, messages, events = await delivered(sessions, [user_id])
        reminder_messages = [m for m in messages if m.content.startswith("Reminder: ")]
        assert_each_delivered_once(reminders, reminder_messages, events)
        assert reminder_messages[0].conversation_id == conversation


class TestRedisRestart:
    async def test_reminders_whose_messages_redis_lost_are_delivered_once_by_the_sweeper(
        self, db, sessions, settings, tmp_path
    ) -> None:
        redis_server = PrivateRedis(free_port(), tmp_path)
        redis_server.start()
        env = stack_env(settings, REDIS_URL=redis_server.url)
        url, processes = start_stack(env)
        users = [f"restart-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        try:
            async with tools_of(db, settings, env) as tools:
                at = datetime.now(UTC) + timedelta(seconds=4)
                for user in users:
                    for n in range(4):
                        await add(tools, user, f"Before {n}", at)
                await asyncio.sleep(1.5)  # the worker holds their delayed messages now
                redis_server.stop()
                for user in users:  # written while the broker is down: their messages never leave
                    await add(tools, user, "During", datetime.now(UTC) + timedelta(seconds=2))
                await asyncio.sleep(4)  # all of them are due meanwhile
                redis_server.start()

                async def all_delivered() -> bool:
                    reminders = (await delivered(sessions, users))[0]
                    return all(r.status == ReminderStatus.delivered for r in reminders)

                await wait_for(all_delivered, timeout_s=45)
                await asyncio.sleep(2)
        finally:
            for process in processes:
                stop(process)
            redis_server.stop()
        reminders, messages, events = await delivered(sessions, users)
        assert len(reminders) == 15
        assert_each_delivered_once(reminders, messages, events)


class TestBadInput:
    async def test_a_cancelled_reminders_message_delivers_nothing(
        self, db, sessions, settings, user_id
    ) -> None:
        env = stack_env(settings)
        url, processes = start_stack(env)
        try:
            async with tools_of(db, settings, env) as tools:
                at = datetime.now(UTC) + timedelta(seconds=3)
                kept = await add(tools, user_id, "Kept", at)
                done = await add(tools, user_id, "Done", at)
                gone = await add(tools, user_id, "Gone", at)
                for name, task in (("complete_task", done), ("delete_task", gone)):
                    result = await tools.call_tool_mcp(name, {"user_id": user_id, "task_id": task["id"]})
                    assert not result.is_error

                async def kept_delivered() -> bool:
                    reminders = (await delivered(sessions, [user_id]))[0]
                    return any(r.status == ReminderStatus.delivered for r in reminders)

                await wait_for(kept_delivered, timeout_s=15)  # the worker was live at that time
                await asyncio.sleep(2)
                assert await queue_lengths(settings.redis_url, env["REDIS_PREFIX"]) == [0, 0]  # all consumed
        finally:
            for process in processes:
                stop(process)
        reminders, messages, events = await delivered(sessions, [user_id])
        statuses = {r.task_id: r.status for r in reminders}
        assert statuses == {kept["id"]: ReminderStatus.delivered, done["id"]: ReminderStatus.cancelled}
        assert [m.content for m in messages] == ["Reminder: Kept"]  # the deleted task's reminder went with it
        assert [e.data["task_id"] for e in events] == [kept["id"]]

    async def test_a_time_already_past_is_said_and_nothing_is_scheduled(
        self, processes, sessions, settings, user_id
    ) -> None:
        # A zone where it is about 8 pm now, so that 6 pm has passed today.
        offset = (20 - datetime.now(UTC).hour + 12) % 24 - 12
        zone = f"Etc/GMT{-offset:+d}" if offset else "UTC"
        headers = {"Authorization": f"Bearer {mint_token(settings, user_id)}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as http:
            reply = await http.post(
                f"{processes[0]}/api/{user_id}/chat",
                json={"message": "remind me to call mom at 6pm", "timezone": zone},
            )
        assert reply.status_code == 200, reply.text
        assert "already passed" in reply.json()["response"], reply.json()["response"]
        assert [c["name"] for c in reply.json()["tool_calls"]] == ["list_tasks"]  # it only looked
        async with sessions() as s:
            assert (await s.exec(select(Reminder).where(Reminder.user_id == user_id))).all() == []

    async def test_more_than_500_reminders_is_a_clear_answer(
        self, processes, db, sessions, settings, user_id
    ) -> None:
        later = datetime.now(UTC) + timedelta(days=2)
        async with db.transaction() as conn:
            ids = (
                (
                    await conn.execute(
                        insert(Task).returning(Task.id),
                        [{"user_id": user_id, "title": f"Task {n}"} for n in range(MAX_ACTIVE_REMINDERS)],
                    )
                )
                .scalars()
                .all()
            )
            await conn.execute(
                insert(Reminder),
                [
                    {"user_id": user_id, "task_id": task_id, "remind_at": later, "status": "pending"}
                    for task_id in ids
                ],
            )
        headers = {"Authorization": f"Bearer {mint_token(settings, user_id)}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as http:
            reply = await http.post(
                f"{processes[0]}/api/{user_id}/chat",
                json={"message": "remind me to call mom tomorrow at 6pm"},
            )
        answer = reply.json()
        assert [c["status"] for c in answer["tool_calls"]][-1] == "error"
        assert "already have 500 reminders waiting; remove some first" in answer["response"]
        async with sessions() as s:
            count = (
                await s.exec(select(func.count()).select_from(Reminder).where(Reminder.user_id == user_id))
            ).one()
        assert count == MAX_ACTIVE_REMINDERS
