"""The corpus's date notation (taskchat/corpus.py), which the eval runner and the unit tests both use."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from taskchat.corpus import due_argument, same_tasks

NOW = datetime(2026, 12, 3, 9, 15, tzinfo=ZoneInfo("Europe/Berlin"))  # a Thursday


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ({"days": 1, "time": "17:00"}, "2026-12-04T17:00:00+01:00"),
        ({"days": 0}, "2026-12-03"),
        ({"weekday": "thu"}, "2026-12-03"),
        ({"weekday": "fri"}, "2026-12-04"),
        ({"week": 1, "weekday": "tue"}, "2026-12-08"),
        ({"week": 1}, "2026-12-07"),
        ({"weekday": "thu", "time": "08:00"}, "2026-12-10T08:00:00+01:00"),  # passed today: next week
        ({"day_of_month": 1}, "2027-01-01"),
        ({"day_of_month": 3}, "2026-12-03"),
        ({"month": 3, "day_of_month": 3}, "2027-03-03"),
        ({"months": 1, "day": 1}, "2027-01-01"),
        ({"last_day_of_month": True}, "2026-12-31"),
        ({"next_time": "09:00"}, "2026-12-04T09:00:00+01:00"),
        ({"next_time": "17:00"}, "2026-12-03T17:00:00+01:00"),
        (None, None),
    ],
)
def test_notation(spec: dict | None, value: str | None) -> None:
    assert due_argument(spec, NOW) == value


def test_an_all_day_date_must_not_match_a_time_on_that_day() -> None:
    task = {"title": "Call mom", "completed": False, "due_at": "2026-12-04T17:00:00+01:00", "all_day": False}
    assert same_tasks([task], [{"title": ["Call mom"], "due": {"days": 1, "time": "17:00"}}], NOW)
    assert not same_tasks([task], [{"title": ["Call mom"], "due": {"days": 1}}], NOW)
    assert not same_tasks([task], [{"title": ["Call mom"], "due": None}], NOW)
