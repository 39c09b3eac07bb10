"""The local cloud's due times of EventBridge Scheduler schedules (`pitwall_local.scheduler`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pitwall_local.scheduler import latest_due

START = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
T0 = START.timestamp()


def _schedule(expression: str, end: datetime | None = None) -> dict:
    schedule = {"ScheduleExpression": expression, "StartDate": START, "CreationDate": START}
    if end is not None:
        schedule["EndDate"] = end
    return schedule


def test_a_rate_is_due_every_interval_after_its_start_and_not_at_it() -> None:
    every_two_hours = _schedule("rate(2 hours)")
    assert latest_due(every_two_hours, float("-inf"), T0 + 7199) is None
    assert latest_due(every_two_hours, float("-inf"), T0 + 7200) == T0 + 7200
    # lagging past two due times: the newest, once
    assert latest_due(every_two_hours, float("-inf"), T0 + 5 * 3600) == T0 + 4 * 3600
    assert latest_due(every_two_hours, T0 + 4 * 3600, T0 + 5 * 3600) is None


def test_nothing_is_due_after_the_end_date() -> None:
    ending = _schedule("rate(1 hour)", end=datetime(2027, 1, 15, 10, 30, tzinfo=UTC))
    assert latest_due(ending, float("-inf"), T0 + 10 * 3600) == T0 + 2 * 3600
    assert latest_due(ending, T0 + 2 * 3600, T0 + 10 * 3600) is None


@pytest.mark.parametrize(
    ("expression", "now", "due"),
    [
        (
            "cron(0 3 * * ? *)",
            datetime(2027, 1, 16, 5, 0, tzinfo=UTC),
            datetime(2027, 1, 16, 3, 0, tzinfo=UTC),
        ),
        (
            "cron(30 * * * ? *)",
            datetime(2027, 1, 15, 9, 40, tzinfo=UTC),
            datetime(2027, 1, 15, 9, 30, tzinfo=UTC),
        ),
        ("cron(0 3 * * ? *)", datetime(2027, 1, 16, 2, 0, tzinfo=UTC), None),
    ],
)
def test_a_cron_is_due_at_its_latest_match_since_its_start(
    expression: str, now: datetime, due: datetime | None
) -> None:
    found = latest_due(_schedule(expression), float("-inf"), now.timestamp())
    assert found == (due.timestamp() if due else None)
