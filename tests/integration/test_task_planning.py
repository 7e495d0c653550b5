"""Due dates, priorities, tags, search, repeats and reminders through a real MCP client on real
PostgreSQL, read and shown in the user's time zone (issue #17, and the data of #18)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastmcp import Client
from sqlmodel import col, select

from common.models import Reminder, ReminderStatus, Task, UserState
from mcp_tools import tasks
from mcp_tools.server import mcp

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def client(sessions):
    async with Client(mcp) as c:
        yield c


@pytest.fixture
async def berliner(sessions, user_id) -> str:
    async with sessions() as s:
        s.add(UserState(user_id=user_id, timezone="Europe/Berlin"))
        await s.commit()
    return user_id


async def ok(client: Client, name: str, **arguments: object) -> dict:
    result = await client.call_tool_mcp(name, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def error(client: Client, name: str, **arguments: object) -> str:
    result = await client.call_tool_mcp(name, arguments)
    assert result.is_error
    return result.content[0].text


async def rows(sessions, model, user_id: str) -> list:
    async with sessions() as s:
        return list(
            (await s.exec(select(model).where(model.user_id == user_id).order_by(col(model.id)))).all()
        )


def tomorrow(zone: ZoneInfo = BERLIN) -> date:
    return datetime.now(zone).date() + timedelta(days=1)


class TestAdding:
    async def test_due_priority_tags_and_description_in_the_users_zone(
        self, client, sessions, berliner
    ) -> None:
        due = f"{tomorrow()}T17:00:00+01:00"
        task = await ok(
            client, "add_task", user_id=berliner, title="Call mom", description="her birthday party",
            due_at=due, priority="high", tags=["Family", "#calls", "family"],
        )  # fmt: skip
        assert task["due_at"] == due and task["all_day"] is False
        assert (task["priority"], task["tags"], task["description"]) == (
            "high",
            ["family", "calls"],
            "her birthday party",
        )
        assert task["created_at"].endswith("+01:00")  # shown in the user's zone
        (row,) = await rows(sessions, Task, berliner)
        assert row.due_at == datetime.fromisoformat(due) and row.due_at.tzinfo is not None

    async def test_a_date_alone_is_due_by_the_end_of_that_day(self, client, berliner) -> None:
        task = await ok(client, "add_task", user_id=berliner, title="Pay rent", due_at=str(tomorrow()))
        assert task["all_day"] is True and task["due_at"] == f"{tomorrow()}T23:59:59+01:00"

    async def test_a_time_without_offset_is_read_in_the_users_zone(self, client, berliner) -> None:
        task = await ok(
            client, "add_task", user_id=berliner, title="Dentist", due_at=f"{tomorrow()}T15:30:00"
        )
        assert task["due_at"] == f"{tomorrow()}T15:30:00+01:00"

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            ({"due_at": "next friday"}, "due_at: 'next friday' is not an ISO 8601"),
            ({"due_at": "2026-02-30"}, "is not a real date"),
            ({"priority": "critical"}, "priority"),
            ({"tags": [f"t{n}" for n in range(11)]}, "At most 10 tags"),
            ({"tags": ["x" * 33]}, "A tag must be 1 to 32 characters"),
            ({"repeat": "every monday"}, "repeat: 'every monday' is not a valid RRULE"),
            ({"repeat": "FREQ=MINUTELY"}, "not an hourly, daily, weekly, monthly or yearly RRULE"),
            ({"remind_at": "2020-01-01T09:00:00+00:00"}, "is in the past; nothing was scheduled"),
            ({"remind_before_minutes": 60}, "remind_before_minutes needs a task with a due time"),
        ],
    )
    async def test_bad_values_are_tool_errors_that_name_them_and_write_nothing(
        self, client, sessions, berliner, arguments, message
    ) -> None:
        text = await error(client, "add_task", user_id=berliner, title="x", **arguments)
        assert message in text
        assert await rows(sessions, Task, berliner) == [] and await rows(sessions, Reminder, berliner) == []


class TestUpdating:
    async def test_move_clear_and_retag(self, client, berliner) -> None:
        task = await ok(
            client, "add_task", user_id=berliner, title="Report", due_at=str(tomorrow()), tags=["work"]
        )
        moved = await ok(
            client, "update_task", user_id=berliner, task_id=task["id"], due_at=f"{tomorrow()}T09:00:00"
        )
        assert moved["due_at"] == f"{tomorrow()}T09:00:00+01:00" and moved["all_day"] is False
        assert moved["title"] == "Report" and moved["tags"] == ["work"]  # untouched
        cleared = await ok(client, "update_task", user_id=berliner, task_id=task["id"], due_at="", tags=[])
        assert (cleared["due_at"], cleared["tags"]) == (None, [])
        assert "Give something to change" in await error(
            client, "update_task", user_id=berliner, task_id=task["id"]
        )


class TestListing:
    async def test_filters_search_and_sorting(self, client, berliner) -> None:
        today, now = datetime.now(BERLIN).date(), datetime.now(BERLIN)
        late = await ok(
            client, "add_task", user_id=berliner, title="Late", due_at=(now - timedelta(hours=2)).isoformat()
        )
        soon = await ok(
            client,
            "add_task",
            user_id=berliner,
            title="Dentist appointment",
            due_at=f"{tomorrow()}T10:00:00",
            priority="urgent",
        )
        later = await ok(
            client,
            "add_task",
            user_id=berliner,
            title="Buy milk",
            due_at=str(today + timedelta(days=5)),
            tags=["errands"],
            priority="low",
        )
        undated = await ok(
            client, "add_task", user_id=berliner, title="Read a book", description="about dentists"
        )

        async def ids(**filters: object) -> list[int]:
            return [t["id"] for t in (await ok(client, "list_tasks", user_id=berliner, **filters))["tasks"]]

        assert await ids(overdue=True) == [late["id"]]
        assert await ids(due_after=str(tomorrow()), due_before=str(tomorrow() + timedelta(days=1))) == [
            soon["id"]
        ]
        assert await ids(tag="#Errands") == [later["id"]]
        assert await ids(priority="urgent") == [soon["id"]]
        assert await ids(query="dentist") == [soon["id"], undated["id"]]  # stems: "dentists"
        assert await ids(query="dent appoint") == [soon["id"]]  # prefixes, all words
        assert await ids(sort="due") == [late["id"], soon["id"], later["id"], undated["id"]]
        assert (await ids(sort="priority"))[0] == soon["id"] and (await ids(sort="priority"))[-1] == later[
            "id"
        ]
        assert await ids(limit=2) == [late["id"], soon["id"]]
        await ok(client, "complete_task", user_id=berliner, task_id=late["id"])
        assert await ids(overdue=True) == []
        assert await ids(status="completed") == [late["id"]]

    async def test_bad_filters_are_tool_errors(self, client, berliner) -> None:
        assert "due_before" in await error(client, "list_tasks", user_id=berliner, due_before="soon")
        assert "sort" in await error(client, "list_tasks", user_id=berliner, sort="alphabetical")


class TestRepeats:
    async def test_completing_creates_the_next_occurrence_once(self, client, sessions, berliner) -> None:
        monday = tomorrow()
        while monday.weekday() != 0:
            monday += timedelta(days=1)
        bins = await ok(
            client,
            "add_task",
            user_id=berliner,
            title="Take out the bins",
            due_at=f"{monday}T07:30:00",
            repeat="FREQ=WEEKLY;BYDAY=MO",
            tags=["home"],
        )
        done = await ok(client, "complete_task", user_id=berliner, task_id=bins["id"])
        assert done["completed"] is True and done["completed_at"] is not None
        following = done["next"]
        assert following["due_at"] == f"{monday + timedelta(days=7)}T07:30:00+01:00"
        assert (following["title"], following["tags"], following["repeat"]) == (
            "Take out the bins",
            ["home"],
            "FREQ=WEEKLY;BYDAY=MO",
        )
        again = await ok(client, "complete_task", user_id=berliner, task_id=bins["id"])
        assert again["next"] is None
        assert len(await rows(sessions, Task, berliner)) == 2

    async def test_a_repeat_without_a_due_date_starts_from_today(self, client, berliner) -> None:
        rent = await ok(
            client, "add_task", user_id=berliner, title="Pay rent", repeat="FREQ=MONTHLY;BYMONTHDAY=1"
        )
        assert rent["all_day"] is True and rent["due_at"][8:10] == "01"
        stopped = await ok(client, "update_task", user_id=berliner, task_id=rent["id"], repeat="")
        assert stopped["repeat"] is None
        done = await ok(client, "complete_task", user_id=berliner, task_id=rent["id"])
        assert done["next"] is None


class TestReminders:
    async def test_set_move_with_the_due_date_list_and_cancel(self, client, sessions, berliner) -> None:
        due = f"{tomorrow()}T17:00:00+01:00"
        task = await ok(
            client, "add_task", user_id=berliner, title="Report", due_at=due, remind_before_minutes=60
        )
        assert task["remind_at"] == f"{tomorrow()}T16:00:00+01:00"
        moved = await ok(
            client, "update_task", user_id=berliner, task_id=task["id"], due_at=f"{tomorrow()}T18:30:00"
        )
        assert moved["remind_at"] == f"{tomorrow()}T17:30:00+01:00"
        listed = (await ok(client, "list_reminders", user_id=berliner))["reminders"]
        assert [(r["task_id"], r["remind_at"]) for r in listed] == [(task["id"], moved["remind_at"])]
        cancelled = await ok(client, "update_task", user_id=berliner, task_id=task["id"], remind_at="")
        assert cancelled["remind_at"] is None
        assert (await ok(client, "list_reminders", user_id=berliner))["reminders"] == []
        statuses = [r.status for r in await rows(sessions, Reminder, berliner)]
        assert statuses == [ReminderStatus.cancelled, ReminderStatus.cancelled]

    async def test_completing_or_deleting_cancels_the_reminder(self, client, sessions, berliner) -> None:
        at = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        first = await ok(client, "add_task", user_id=berliner, title="Call mom", remind_at=at)
        second = await ok(client, "add_task", user_id=berliner, title="Call dad", remind_at=at)
        await ok(client, "complete_task", user_id=berliner, task_id=first["id"])
        await ok(client, "delete_task", user_id=berliner, task_id=second["id"])
        assert [r.status for r in await rows(sessions, Reminder, berliner)] == [ReminderStatus.cancelled]
        assert (await ok(client, "list_reminders", user_id=berliner))["reminders"] == []

    async def test_too_many_reminders_is_a_clear_error(self, client, berliner, monkeypatch) -> None:
        monkeypatch.setattr(tasks, "MAX_ACTIVE_REMINDERS", 2)
        at = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        for n in range(2):
            await ok(client, "add_task", user_id=berliner, title=f"r{n}", remind_at=at)
        assert "already have 2 reminders" in await error(
            client, "add_task", user_id=berliner, title="r3", remind_at=at
        )
