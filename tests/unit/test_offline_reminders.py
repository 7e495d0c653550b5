"""Reminders and repeats in the offline model, at a fixed "now" (Thursday 3 Dec 2026 in Berlin)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.unit.test_offline_model import Chat, Tools
from worker.offline.reminders import minutes, take_repeat


class Clock(Tools):
    def __init__(self, at: str) -> None:
        super().__init__("Europe/Berlin")
        self.at = datetime.fromisoformat(at).replace(tzinfo=ZoneInfo("Europe/Berlin"))

    def now(self) -> datetime:
        return self.at


@pytest.mark.parametrize(
    ("words", "rest", "rule"),
    [
        ("every Monday take out the bins", "take out the bins", "FREQ=WEEKLY;BYDAY=MO"),
        ("water the plants every 3 days", "water the plants", "FREQ=DAILY;INTERVAL=3"),
        ("pay rent monthly on the 1st", "pay rent", "FREQ=MONTHLY;BYMONTHDAY=1"),
        ("call grandma every weekday", "call grandma", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        ("every other Friday pay the cleaner", "pay the cleaner", "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"),
        ("gym on Mondays and Thursdays", "gym", "FREQ=WEEKLY;BYDAY=MO,TH"),
        ("team meeting the first Monday of every month", "team meeting", "FREQ=MONTHLY;BYDAY=1MO"),
        ("renew insurance every year on March 3", "renew insurance", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3"),
        ("pay the card on the last day of every month", "pay the card", "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ("clean the bathroom weekly", "clean the bathroom", "FREQ=WEEKLY"),
        ("call mom on Monday", "call mom on Monday", None),  # one Monday: a date, not a repeat
    ],
)
def test_repeat_phrases(words: str, rest: str, rule: str | None) -> None:
    found_rest, found_rule, _ = take_repeat(words)
    assert (found_rule, found_rest if found_rule else words) == (rule, rest)


@pytest.mark.parametrize(
    ("said", "value"), [("an hour", 60), ("30 minutes", 30), ("a day", 1440), ("2 hours", 120)]
)
def test_minutes_before(said: str, value: int) -> None:
    assert minutes(said) == value


class TestReminders:
    def test_a_reminder_later_today_is_set_for_today(self) -> None:
        tools = Clock("2026-12-03T09:15")
        chat = Chat(tools)
        reply = chat.send("remind me to call mom at 5pm")
        assert chat.arguments[-1] == {
            "title": "Call mom",
            "due_at": "2026-12-03T17:00:00+01:00",
            "remind_at": "2026-12-03T17:00:00+01:00",
        }
        assert "today at 5:00 PM" in reply and "remind" in reply

    def test_a_time_that_has_passed_today_is_asked_about_and_a_yes_makes_it_tomorrow(self) -> None:
        tools = Clock("2026-12-03T18:30")
        chat = Chat(tools)
        question = chat.send("remind me to call mom at 5pm")
        assert "already passed" in question and "tomorrow at 5:00 PM" in question
        assert tools.tasks == {} and "add_task" not in chat.calls
        chat.send("yes")
        (task,) = tools.tasks.values()
        assert task["remind_at"].isoformat() == "2026-12-04T17:00:00+01:00"

    def test_a_no_leaves_it(self) -> None:
        tools = Clock("2026-12-03T18:30")
        chat = Chat(tools)
        chat.send("remind me to call mom at 5pm")
        chat.send("no")
        assert tools.tasks == {} and chat.calls == []

    def test_a_reminder_on_a_task_already_on_the_list_sets_it_there(self) -> None:
        tools = Clock("2026-12-03T09:15")
        mom = tools.add_task("Call mom")
        chat = Chat(tools)
        chat.send("remind me to call mom tomorrow at 6pm")
        assert chat.calls == ["list_tasks", "update_task"] and len(tools.tasks) == 1
        assert tools.tasks[mom["id"]]["remind_at"].isoformat() == "2026-12-04T18:00:00+01:00"

    def test_an_hour_before_it_is_due(self) -> None:
        tools = Clock("2026-12-03T09:15")
        report = tools.add_task("Finish the report", due_at="2026-12-04T17:00:00+01:00")
        chat = Chat(tools)
        chat.send("remind me about the report an hour before it's due")
        assert chat.arguments[-1] == {"task_id": report["id"], "remind_before_minutes": 60}

    def test_before_a_day_without_a_time_asks_what_time(self) -> None:
        tools = Clock("2026-12-03T09:15")
        tools.add_task("Dentist", due_at="2026-12-05")
        chat = Chat(tools)
        reply = chat.send("remind me about the dentist an hour before")
        assert "what time" in reply and chat.calls == ["list_tasks"]

    def test_cancel_and_list(self) -> None:
        tools = Clock("2026-12-03T09:15")
        plants = tools.add_task("Water the plants", remind_at="2026-12-04T09:00:00+01:00")
        chat = Chat(tools)
        assert "Water the plants — tomorrow at 9:00 AM" in chat.send("what reminders do I have?")
        chat.send("cancel the reminder for the plants")
        assert chat.arguments[-1] == {"task_id": plants["id"], "remind_at": ""}
        assert "no reminders" in chat.send("any reminders?")


class TestRepeats:
    def test_every_monday(self) -> None:
        tools = Clock("2026-12-03T09:15")
        chat = Chat(tools)
        reply = chat.send("every Monday take out the bins")
        assert chat.arguments == [
            {"title": "Take out the bins", "repeat": "FREQ=WEEKLY;BYDAY=MO", "due_at": "2026-12-07"}
        ]
        assert "repeats every Monday" in reply

    def test_completing_a_repeating_task_says_when_the_next_one_is(self) -> None:
        tools = Clock("2026-12-03T09:15")
        tools.add_task("Take out the bins", due_at="2026-12-07", repeat="FREQ=WEEKLY;BYDAY=MO")
        chat = Chat(tools)
        reply = chat.send("I took out the bins")
        assert chat.calls == ["list_tasks", "complete_task"]
        assert "the next one is due Monday, Dec 14" in reply

    def test_stop_repeating(self) -> None:
        tools = Clock("2026-12-03T09:15")
        bins = tools.add_task("Take out the bins", due_at="2026-12-07", repeat="FREQ=WEEKLY;BYDAY=MO")
        chat = Chat(tools)
        assert "no longer repeats" in chat.send("stop repeating the bins task")
        assert chat.arguments[-1] == {"task_id": bins["id"], "repeat": ""}
