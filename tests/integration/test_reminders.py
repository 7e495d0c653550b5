"""Reminders on real PostgreSQL and Redis (issue #18): the tools write a reminder and its delayed queue
message goes out after the commit; delivery writes one assistant message and one event, however often
and however concurrently it is attempted; the sweeper makes up for lost messages; every task change is
an event of the user's feed, numbered in commit order."""

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dramatiq
import pytest
import redis.asyncio as aredis
from fastmcp import Client
from sqlalchemy import update
from sqlmodel import col, select

from common.jobs import DELIVER_REMINDER, wake_key
from common.models import Conversation, Event, Message, Reminder, ReminderStatus, Role, Task, UserState
from common.userevents import HORIZON, AfterCommit, channel
from mcp_tools.server import bind_database, mcp
from worker import reminders
from worker.sweeper import prune_events, sweep_reminders

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def redis_client(settings):
    client = aredis.Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def after_commit(db, settings, redis_client):
    """The tools tell Redis about their commits, under a prefix of this test's own (no worker consumes it)."""
    own = settings.model_copy(update={"redis_prefix": f"{settings.redis_prefix}-{id(redis_client)}"})
    sender = AfterCommit(redis_client, own)
    bind_database(db, sender)
    yield sender
    bind_database(db)
    async for key in redis_client.scan_iter(match=f"{own.redis_prefix}*"):
        await redis_client.delete(key)


@pytest.fixture
async def client(after_commit):
    async with Client(mcp) as c:
        yield c


async def ok(client: Client, name: str, **arguments: object) -> dict:
    result = await client.call_tool_mcp(name, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def tool_error(client: Client, name: str, **arguments: object) -> str:
    result = await client.call_tool_mcp(name, arguments)
    assert result.is_error
    return result.content[0].text


async def queued(redis_client, sender: AfterCommit, queue: str) -> list[dramatiq.Message]:
    key = f"{sender.queue.namespace}:{queue}"
    ids = await redis_client.lrange(key, 0, -1)
    bodies = await redis_client.hmget(f"{key}.msgs", ids) if ids else []
    return [dramatiq.Message.decode(body) for body in bodies]


def in_minutes(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def reminder_of(sessions, task_id: int) -> Reminder:
    async with sessions() as s:
        return (await s.exec(select(Reminder).where(Reminder.task_id == task_id))).one()


async def make_due(db, task_id: int) -> int:
    """Moves the task's pending reminder to a second ago: its time has come."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    statement = (
        update(Reminder)
        .where(Reminder.task_id == task_id, Reminder.status == ReminderStatus.pending)
        .values(remind_at=past)
        .returning(Reminder.id)
    )
    return int(await db.scalar(statement))


async def events_of(sessions, user_id: str) -> list[Event]:
    async with sessions() as s:
        return list((await s.exec(select(Event).where(Event.user_id == user_id).order_by(Event.seq))).all())


async def messages_of(sessions, user_id: str) -> list[Message]:
    async with sessions() as s:
        return list(
            (await s.exec(select(Message).where(Message.user_id == user_id).order_by(Message.id))).all()
        )


class TestScheduling:
    async def test_a_new_reminder_gets_a_delayed_message_for_its_time_once_committed(
        self, client, sessions, redis_client, after_commit, user_id
    ) -> None:
        task = await ok(client, "add_task", user_id=user_id, title="Call mom", remind_at=in_minutes(10))
        reminder = await reminder_of(sessions, task["id"])
        (message,) = await queued(redis_client, after_commit, "reminders.DQ")
        assert (message.actor_name, message.args) == (DELIVER_REMINDER, (reminder.id,))
        assert message.options["eta"] == int(reminder.remind_at.timestamp() * 1000)
        assert reminder.enqueued is True and reminder.status == ReminderStatus.pending
        assert await queued(redis_client, after_commit, "reminders") == []  # nothing to run now

    async def test_a_moved_reminder_gets_a_new_message_and_the_old_one_finds_it_cancelled(
        self, client, db, sessions, redis_client, after_commit, user_id
    ) -> None:
        task = await ok(client, "add_task", user_id=user_id, title="Call mom", remind_at=in_minutes(10))
        first = await reminder_of(sessions, task["id"])
        await ok(client, "update_task", user_id=user_id, task_id=task["id"], remind_at=in_minutes(20))
        messages = await queued(redis_client, after_commit, "reminders.DQ")
        async with sessions() as s:
            rows = (await s.exec(select(Reminder).where(Reminder.task_id == task["id"]))).all()
        second = next(r for r in rows if r.id != first.id)
        assert [m.args for m in messages] == [(first.id,), (second.id,)]
        assert (await reminders.deliver(db, after_commit, first.id)).delivered is None  # cancelled
        assert await messages_of(sessions, user_id) == []

    async def test_a_reminder_beyond_the_horizon_gets_its_message_from_the_sweeper(
        self, client, db, sessions, redis_client, after_commit, user_id
    ) -> None:
        later = (datetime.now(UTC) + HORIZON + timedelta(hours=2)).isoformat()
        task = await ok(client, "add_task", user_id=user_id, title="Renew passport", remind_at=later)
        reminder = await reminder_of(sessions, task["id"])
        assert reminder.enqueued is False
        assert await queued(redis_client, after_commit, "reminders.DQ") == []

        await sweep_reminders(db, after_commit, grace=timedelta(seconds=20))  # still too far
        assert await queued(redis_client, after_commit, "reminders.DQ") == []
        soon = datetime.now(UTC) + HORIZON - timedelta(minutes=5)  # time passes
        await db.execute(update(Reminder).where(Reminder.id == reminder.id).values(remind_at=soon))
        await sweep_reminders(db, after_commit, grace=timedelta(seconds=20))
        await sweep_reminders(db, after_commit, grace=timedelta(seconds=20))  # once only
        (message,) = await queued(redis_client, after_commit, "reminders.DQ")
        assert message.args == (reminder.id,) and message.options["eta"] == int(soon.timestamp() * 1000)
        assert (await reminder_of(sessions, task["id"])).enqueued is True

    async def test_a_reminder_in_the_past_is_an_error_and_nothing_is_written_or_sent(
        self, client, sessions, redis_client, after_commit, user_id
    ) -> None:
        text = await tool_error(
            client, "add_task", user_id=user_id, title="Call mom", remind_at=in_minutes(-5)
        )
        assert "is in the past; nothing was scheduled" in text
        async with sessions() as s:
            assert (await s.exec(select(Task).where(Task.user_id == user_id))).all() == []
        assert await queued(redis_client, after_commit, "reminders.DQ") == []
        assert await events_of(sessions, user_id) == []

    async def test_an_invalid_recurrence_is_an_error_that_names_it(self, client, sessions, user_id) -> None:
        text = await tool_error(client, "add_task", user_id=user_id, title="Bins", repeat="FREQ=SOMETIMES")
        assert "FREQ=SOMETIMES" in text
        assert await events_of(sessions, user_id) == []

    async def test_completing_an_overdue_repeating_task_makes_one_next_occurrence(
        self, client, db, sessions, user_id
    ) -> None:
        task = await ok(
            client, "add_task", user_id=user_id, title="Water the plants", due_at=in_minutes(90),
            remind_before_minutes=60, repeat="FREQ=DAILY",
        )  # fmt: skip
        # Three days overdue: the next occurrence's reminder would be in the past.
        overdue = datetime.now(UTC) - timedelta(days=3)
        await db.execute(update(Task).where(Task.id == task["id"]).values(due_at=overdue))
        done = await ok(client, "complete_task", user_id=user_id, task_id=task["id"])
        async with sessions() as s:
            ids = [t.id for t in (await s.exec(select(Task).where(Task.user_id == user_id))).all()]
        assert sorted(ids) == sorted([task["id"], done["next"]["id"]])
        assert done["next"]["remind_at"] is None


class TestFeed:
    async def test_every_task_change_is_an_event_numbered_in_order(self, client, sessions, user_id) -> None:
        task = await ok(
            client, "add_task", user_id=user_id, title="Bins", due_at=in_minutes(60), repeat="FREQ=WEEKLY"
        )
        await ok(client, "update_task", user_id=user_id, task_id=task["id"], priority="high")
        await ok(client, "list_tasks", user_id=user_id)  # reading changes nothing
        done = await ok(client, "complete_task", user_id=user_id, task_id=task["id"])
        await ok(client, "delete_task", user_id=user_id, task_id=done["next"]["id"])
        events = await events_of(sessions, user_id)
        assert [(e.seq, e.kind, e.data["change"], e.data["task"]["id"]) for e in events] == [
            (1, "task", "added", task["id"]),
            (2, "task", "updated", task["id"]),
            (3, "task", "completed", task["id"]),
            (4, "task", "added", done["next"]["id"]),
            (5, "task", "deleted", done["next"]["id"]),
        ]
        assert events[1].data["task"]["priority"] == "high" and events[2].data["task"]["completed"] is True
        async with sessions() as s:
            assert (await s.get(UserState, user_id)).event_seq == 5

    async def test_concurrent_changes_of_one_user_get_distinct_consecutive_numbers(
        self, client, sessions, user_id
    ) -> None:
        await asyncio.gather(*(ok(client, "add_task", user_id=user_id, title=f"Task {n}") for n in range(20)))
        events = await events_of(sessions, user_id)
        assert [e.seq for e in events] == list(range(1, 21))
        assert sorted(e.data["task"]["title"] for e in events) == sorted(f"Task {n}" for n in range(20))

    async def test_the_users_channel_hears_the_last_number_after_the_commit(
        self, client, redis_client, after_commit, user_id
    ) -> None:
        pubsub = redis_client.pubsub()
        await pubsub.subscribe(channel(after_commit.prefix, user_id))
        await pubsub.get_message(timeout=1)  # the subscription's confirmation
        await ok(client, "add_task", user_id=user_id, title="Buy milk")
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        await pubsub.aclose()
        assert message is not None and message["data"] == b"1"

    async def test_old_events_are_pruned(self, client, db, sessions, user_id) -> None:
        for title in ("a", "b", "c"):
            await ok(client, "add_task", user_id=user_id, title=title)
        old = datetime.now(UTC) - timedelta(hours=30)
        await db.execute(
            update(Event).where(Event.user_id == user_id, col(Event.seq) <= 2).values(created_at=old)
        )
        assert await prune_events(db, keep=timedelta(hours=24)) >= 2
        assert [e.seq for e in await events_of(sessions, user_id)] == [3]


class TestDelivery:
    async def test_a_due_reminder_lands_in_the_most_recent_conversation_once(
        self, client, db, sessions, redis_client, after_commit, user_id
    ) -> None:
        async with sessions() as s:
            s.add(UserState(user_id=user_id, timezone="Europe/Berlin"))
            older = Conversation(user_id=user_id, updated_at=datetime.now(UTC) - timedelta(days=1))
            recent = Conversation(user_id=user_id, updated_at=datetime.now(UTC) - timedelta(hours=1))
            s.add_all([older, recent])
            await s.commit()
        due = (datetime.now(BERLIN) + timedelta(days=1)).replace(hour=17, minute=0, second=0, microsecond=0)
        task = await ok(
            client,
            "add_task",
            user_id=user_id,
            title="Call mom",
            due_at=due.isoformat(),
            remind_at=in_minutes(5),
        )
        reminder_id = await make_due(db, task["id"])
        pubsub = redis_client.pubsub()
        await pubsub.subscribe(channel(after_commit.prefix, user_id))
        await pubsub.get_message(timeout=1)

        outcome = await reminders.deliver(db, after_commit, reminder_id)
        again = await reminders.deliver(db, after_commit, reminder_id)

        assert again.delivered is None and again.early_by is None
        (message,) = await messages_of(sessions, user_id)
        assert (message.role, message.conversation_id) == (Role.assistant, recent.id)
        assert message.content == "Reminder: Call mom — due tomorrow at 5:00 PM"
        reminder = await reminder_of(sessions, task["id"])
        assert (reminder.status, reminder.message_id) == (ReminderStatus.delivered, message.id)
        assert reminder.delivered_at is not None
        events = await events_of(sessions, user_id)
        assert [e.kind for e in events] == ["task", "reminder"]
        assert events[1].data == {
            "reminder_id": reminder_id,
            "task_id": task["id"],
            "title": "Call mom",
            "text": message.content,
            "remind_at": events[1].data["remind_at"],
            "due_at": due.isoformat(),
            "all_day": False,
            "conversation_id": recent.id,
            "message_id": message.id,
        }
        assert outcome.delivered == events[1].data
        assert events[1].data["remind_at"].endswith(("+01:00", "+02:00"))  # in the user's zone
        async with sessions() as s:
            bumped = await s.get(Conversation, recent.id)
        assert bumped.updated_at > datetime.now(UTC) - timedelta(minutes=1)
        nudge = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        await pubsub.aclose()
        assert nudge is not None and nudge["data"] == b"2"

    async def test_a_user_without_conversations_gets_one(
        self, client, db, sessions, after_commit, user_id
    ) -> None:
        task = await ok(client, "add_task", user_id=user_id, title="Stretch", remind_at=in_minutes(5))
        outcome = await reminders.deliver(db, after_commit, await make_due(db, task["id"]))
        async with sessions() as s:
            (conversation,) = (
                await s.exec(select(Conversation).where(Conversation.user_id == user_id))
            ).all()
        (message,) = await messages_of(sessions, user_id)
        assert message.conversation_id == conversation.id == outcome.delivered["conversation_id"]
        assert message.content == "Reminder: Stretch"

    async def test_concurrent_deliveries_of_one_reminder_write_one_message(
        self, client, db, sessions, after_commit, user_id
    ) -> None:
        task = await ok(client, "add_task", user_id=user_id, title="Stretch", remind_at=in_minutes(5))
        reminder_id = await make_due(db, task["id"])
        outcomes = await asyncio.gather(
            *(reminders.deliver(db, after_commit, reminder_id) for _ in range(10))
        )
        assert sum(o.delivered is not None for o in outcomes) == 1
        assert len(await messages_of(sessions, user_id)) == 1
        assert [e.kind for e in await events_of(sessions, user_id)] == ["task", "reminder"]

    @pytest.mark.parametrize("tool", ["complete_task", "delete_task"])
    async def test_completing_or_deleting_the_task_makes_its_message_deliver_nothing(
        self, client, db, sessions, after_commit, user_id, tool
    ) -> None:
        task = await ok(client, "add_task", user_id=user_id, title="Stretch", remind_at=in_minutes(5))
        reminder_id = await make_due(db, task["id"])
        await ok(client, tool, user_id=user_id, task_id=task["id"])
        outcome = await reminders.deliver(db, after_commit, reminder_id)
        assert outcome.delivered is None
        assert await messages_of(sessions, user_id) == []
        assert "reminder" not in [e.kind for e in await events_of(sessions, user_id)]

    async def test_an_early_message_delivers_nothing_and_says_how_early(
        self, client, db, sessions, after_commit, user_id
    ) -> None:
        task = await ok(client, "add_task", user_id=user_id, title="Stretch", remind_at=in_minutes(5))
        reminder = await reminder_of(sessions, task["id"])
        outcome = await reminders.deliver(db, after_commit, reminder.id)
        assert outcome.delivered is None and timedelta(minutes=4) < outcome.early_by <= timedelta(minutes=5)
        assert (await reminder_of(sessions, task["id"])).status == ReminderStatus.pending
        assert await messages_of(sessions, user_id) == []


class TestSweep:
    async def test_a_reminder_whose_message_was_lost_is_sent_for_delivery_now(
        self, client, db, sessions, redis_client, after_commit, user_id
    ) -> None:
        task = await ok(client, "add_task", user_id=user_id, title="Stretch", remind_at=in_minutes(5))
        reminder_id = await make_due(db, task["id"])
        await db.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id)
            .values(remind_at=datetime.now(UTC) - timedelta(seconds=30))
        )
        await redis_client.delete(f"{after_commit.queue.namespace}:reminders.DQ")  # Redis lost it
        overdue, _ = await sweep_reminders(db, after_commit, grace=timedelta(seconds=20))
        assert overdue >= 1
        now = [m.args for m in await queued(redis_client, after_commit, "reminders")]
        assert (reminder_id,) in now
        wake = wake_key(after_commit.queue.namespace, "reminders")
        assert await redis_client.llen(wake) >= 1  # an idle worker wakes at once

    async def test_while_delivery_messages_wait_overdue_reminders_are_left_to_them(
        self, client, db, redis_client, after_commit, user_id
    ) -> None:
        task = await ok(client, "add_task", user_id=user_id, title="Stretch", remind_at=in_minutes(5))
        reminder_id = await make_due(db, task["id"])
        await db.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id)
            .values(remind_at=datetime.now(UTC) - timedelta(seconds=30))
        )
        await after_commit.deliver_now([reminder_id])  # a burst: its message is still in the queue
        assert await after_commit.deliveries_waiting() == 1
        assert (await sweep_reminders(db, after_commit, grace=timedelta(seconds=20)))[0] == 0
        await redis_client.delete(f"{after_commit.queue.namespace}:reminders")  # the queue drained
        assert (await sweep_reminders(db, after_commit, grace=timedelta(seconds=20)))[0] >= 1
        assert (reminder_id,) in [m.args for m in await queued(redis_client, after_commit, "reminders")]

    async def test_a_delivered_or_recent_reminder_is_left_alone(
        self, client, db, redis_client, after_commit, user_id
    ) -> None:
        task = await ok(client, "add_task", user_id=user_id, title="Stretch", remind_at=in_minutes(5))
        reminder_id = await make_due(db, task["id"])  # due a second ago: within the grace
        await sweep_reminders(db, after_commit, grace=timedelta(seconds=20))
        assert (reminder_id,) not in [m.args for m in await queued(redis_client, after_commit, "reminders")]


def test_reminder_text() -> None:
    now = datetime(2026, 12, 4, 9, 30, tzinfo=BERLIN)
    assert reminders.text("Call mom", datetime(2026, 12, 4, 17, 0, tzinfo=BERLIN), False, now) == (
        "Reminder: Call mom — due 5:00 PM"
    )
    assert reminders.text("Call mom", datetime(2026, 12, 4, 8, 0, tzinfo=BERLIN), False, now) == (
        "Reminder: Call mom — overdue since 8:00 AM"
    )
    assert reminders.text("Pay rent", datetime(2026, 12, 5, 23, 59, 59, tzinfo=BERLIN), True, now) == (
        "Reminder: Pay rent — due tomorrow"
    )
    assert reminders.text("Stretch", None, False, now) == "Reminder: Stretch"
