from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from worker.humanize import describe_due, describe_repeat

NOW = datetime(2026, 12, 3, 9, 15, tzinfo=ZoneInfo("Europe/Berlin"))  # a Thursday


@pytest.mark.parametrize(
    ("due_at", "all_day", "said"),
    [
        ("2026-12-04T17:00:00+01:00", False, "due tomorrow at 5:00 PM"),
        ("2026-12-04T16:00:00+00:00", False, "due tomorrow at 5:00 PM"),  # shown in the user's zone
        ("2026-12-03T23:59:59+01:00", True, "due today"),
        ("2026-12-03T18:30:00+01:00", False, "due today at 6:30 PM"),
        ("2026-12-04T23:59:59+01:00", True, "due tomorrow"),
        ("2026-12-08T23:59:59+01:00", True, "due Tuesday"),
        ("2026-12-11T09:00:00+01:00", False, "due Friday, Dec 11 at 9:00 AM"),
        ("2026-12-24T23:59:59+01:00", True, "due Dec 24"),
        ("2027-01-15T23:59:59+01:00", True, "due Jan 15, 2027"),
        ("2026-12-03T08:00:00+01:00", False, "overdue since 8:00 AM"),
        ("2026-12-02T23:59:59+01:00", True, "overdue since yesterday"),
        ("2026-11-30T23:59:59+01:00", True, "overdue since Monday"),
        ("2026-11-20T12:00:00+01:00", False, "overdue since Nov 20"),
        (None, False, ""),
    ],
)
def test_describe_due(due_at: str | None, all_day: bool, said: str) -> None:
    assert describe_due(due_at, all_day, NOW) == said


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        ("FREQ=WEEKLY;BYDAY=MO", "every Monday"),
        ("FREQ=DAILY;INTERVAL=3", "every 3 days"),
        ("FREQ=MONTHLY;BYMONTHDAY=1", "every month on the 1st"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "every weekday"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", "every other week on Friday"),
        ("FREQ=MONTHLY;BYDAY=1MO", "every month on the first Monday"),
        ("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3", "every year on March 3"),
        ("", ""),
    ],
)
def test_describe_repeat(rule: str, said: str) -> None:
    assert describe_repeat(rule) == said
