"""The offline model's date grammar and its readings, at a fixed "now" (Thursday 3 Dec 2026, 09:15 Berlin)."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from worker.offline import dates

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 3, 9, 15, tzinfo=BERLIN)


def at(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> str:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).isoformat()


class TestFind:
    @pytest.mark.parametrize(
        ("sentence", "rest", "phrase"),
        [
            ("call mom tomorrow at 5pm", "call mom", "tomorrow at 5pm"),
            ("dentist next Tuesday 3:30", "dentist", "next Tuesday 3:30"),
            ("finish the report by Friday", "finish the report", "by Friday"),
            ("pay rent on the 1st", "pay rent", "on the 1st"),
            ("send report friday afternoon", "send report", "friday afternoon"),
            ("submit taxes by the end of the month", "submit taxes", "by the end of the month"),
            ("pick up the kids at 5", "pick up the kids", "at 5"),
        ],
    )
    def test_the_phrase_and_the_rest(self, sentence: str, rest: str, phrase: str) -> None:
        assert dates.strip(sentence) == (rest, phrase)

    @pytest.mark.parametrize(
        "sentence", ["I sat down in the sun", "read chapter 5", "buy 2 tickets", "the month ahead", "may I"]
    )
    def test_no_date_where_there_is_none(self, sentence: str) -> None:
        assert dates.find(sentence) is None


class TestResolve:
    @pytest.mark.parametrize(
        ("phrase", "iso"),
        [
            ("today", "2026-12-03"),
            ("tomorrow", "2026-12-04"),
            ("the day after tomorrow", "2026-12-05"),
            ("Friday", "2026-12-04"),
            ("Thursday", "2026-12-03"),  # today is Thursday
            ("next Tuesday", "2026-12-08"),
            ("next Friday", "2026-12-11"),  # the Friday of next week
            ("next week", "2026-12-07"),
            ("in 2 weeks", "2026-12-17"),
            ("in three days", "2026-12-06"),
            ("on the 1st", "2027-01-01"),
            ("the 3rd", "2026-12-03"),
            ("Dec 5", "2026-12-05"),
            ("5 December", "2026-12-05"),
            ("March 3rd", "2027-03-03"),
            ("the 15th of January", "2027-01-15"),
            ("end of the month", "2026-12-31"),
            ("next month", "2027-01-01"),
            ("by Friday", "2026-12-04"),
            ("before Friday", "2026-12-03"),
            ("25/12", "2026-12-25"),
            ("2027-02-01", "2027-02-01"),
        ],
    )
    def test_days(self, phrase: str, iso: str) -> None:
        due = dates.resolve(phrase, NOW)
        assert due.all_day and due.iso() == iso

    @pytest.mark.parametrize(
        ("phrase", "iso"),
        [
            ("tomorrow at 5pm", at(4, 17)),
            ("tonight", at(3, 20)),
            ("this evening", at(3, 18)),
            ("tomorrow morning", at(4, 9)),
            ("at noon", at(3, 12)),
            ("at 5", at(3, 17)),  # an hour without am/pm from 1 to 7 is in the afternoon
            ("at 9", at(4, 9)),  # 9 AM has passed today: tomorrow
            ("next Tuesday 3:30", at(8, 15, 30)),
            ("Thursday at 8am", at(10, 8)),  # 8 AM Thursday has passed: next Thursday
            ("Friday at 3:30 pm", at(4, 15, 30)),
            ("at 7 in the evening", at(3, 19)),
            ("tomorrow at 17:00", at(4, 17)),
            ("in an hour", at(3, 10, 15)),
            ("in 30 minutes", at(3, 9, 45)),
        ],
    )
    def test_times(self, phrase: str, iso: str) -> None:
        due = dates.resolve(phrase, NOW)
        assert not due.all_day and due.iso() == iso

    def test_a_task_keeps_its_hour_when_moved_to_a_day(self) -> None:
        assert dates.resolve("Friday", NOW, default_time=time(15, 30)).iso() == at(4, 15, 30)

    def test_day_and_month_both_twelve_or_less_is_ambiguous(self) -> None:
        with pytest.raises(dates.Ambiguous) as asked:
            dates.resolve("5/12", NOW)
        assert asked.value.readings == [date(2027, 5, 12), date(2026, 12, 5)]

    def test_the_users_zone_decides_what_tomorrow_is(self) -> None:
        tokyo = datetime(2026, 12, 3, 23, 30, tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("Asia/Tokyo"))
        assert dates.resolve("tomorrow at 9am", tokyo).iso() == "2026-12-05T09:00:00+09:00"

    @pytest.mark.parametrize(
        ("phrase", "first", "after"),
        [
            ("today", "2026-12-03", "2026-12-04"),
            ("this week", "2026-12-03", "2026-12-07"),
            ("next week", "2026-12-07", "2026-12-14"),
            ("friday", "2026-12-04", "2026-12-05"),
            ("this month", "2026-12-03", "2027-01-01"),
        ],
    )
    def test_periods(self, phrase: str, first: str, after: str) -> None:
        assert tuple(d.isoformat() for d in dates.period(phrase, NOW)) == (first, after)
