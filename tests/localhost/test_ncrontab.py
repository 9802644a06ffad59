"""NCRONTAB parsing and next-occurrence, table-driven (pure, no host)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from devtools.local_host.ncrontab import CronError, CronSchedule
from devtools.local_host.schedules import IntervalSchedule, parse_schedule
from devtools.local_host.timespan import TimeSpanError, parse_timespan

D = datetime


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * * *", D(2024, 1, 1, 0, 0, 0), D(2024, 1, 1, 0, 0, 1)),
        ("* * * * * *", D(2024, 1, 1, 0, 0, 0, 500_000), D(2024, 1, 1, 0, 0, 1)),
        ("*/1 * * * * *", D(2024, 1, 1, 23, 59, 59), D(2024, 1, 2, 0, 0, 0)),
        ("*/15 * * * * *", D(2024, 1, 1, 0, 0, 14), D(2024, 1, 1, 0, 0, 15)),
        ("*/15 * * * * *", D(2024, 1, 1, 0, 0, 45), D(2024, 1, 1, 0, 1, 0)),
        ("0 */5 * * * *", D(2024, 1, 1, 10, 2, 30), D(2024, 1, 1, 10, 5, 0)),
        ("0 */5 * * * *", D(2024, 1, 1, 10, 5, 0), D(2024, 1, 1, 10, 10, 0)),  # strictly after
        ("0 0 */8 * * *", D(2024, 3, 10, 9, 0, 0), D(2024, 3, 10, 16, 0, 0)),  # certsync auto-renew
        ("0 */15 * * * *", D(2024, 3, 10, 9, 59, 59), D(2024, 3, 10, 10, 0, 0)),  # certsync sync sweep
        ("5-10/2 * * * * *", D(2024, 1, 1, 0, 0, 9), D(2024, 1, 1, 0, 1, 5)),  # range with step: 5,7,9
        ("30/15 * * * * *", D(2024, 1, 1, 0, 0, 50), D(2024, 1, 1, 0, 1, 30)),  # start/step: 30,45
        ("0,20,40 * * * * *", D(2024, 1, 1, 0, 0, 20), D(2024, 1, 1, 0, 0, 40)),  # list
        ("0 30 9 * * 1-5", D(2024, 3, 8, 10, 0, 0), D(2024, 3, 11, 9, 30, 0)),  # Friday -> Monday
        ("0 0 12 * * Sun", D(2024, 3, 8, 0, 0, 0), D(2024, 3, 10, 12, 0, 0)),  # day name
        ("0 0 12 * * sunday", D(2024, 3, 8, 0, 0, 0), D(2024, 3, 10, 12, 0, 0)),  # any case, full name
        ("0 0 0 1 Jan,Jul *", D(2024, 2, 1), D(2024, 7, 1)),  # month names
        ("0 0 0 13 * 5", D(2024, 1, 1), D(2024, 9, 13)),  # day AND weekday: the next Friday 13th
        ("0 0 0 29 2 *", D(2024, 3, 1), D(2028, 2, 29)),  # leap day
        ("0 0 0 31 * *", D(2024, 4, 1), D(2024, 5, 31)),  # April has no 31st
        ("0 59 23 31 12 *", D(2024, 12, 31, 23, 59, 0), D(2025, 12, 31, 23, 59, 0)),
        ("*/5 * * * *", D(2024, 1, 1, 10, 2, 30), D(2024, 1, 1, 10, 5, 0)),  # five fields: no seconds
        ("0 0 0 * * 0", D(2024, 3, 9, 12, 0, 0), D(2024, 3, 10, 0, 0, 0)),  # Sunday is 0
    ],
)
def test_next_occurrence(expression: str, after: datetime, expected: datetime) -> None:
    assert CronSchedule.parse(expression).next_after(after) == expected


def test_schedule_with_no_occurrence_never_fires() -> None:
    assert CronSchedule.parse("0 0 0 30 2 *").next_after(D(2024, 1, 1)) is None


def test_consecutive_occurrences_follow_the_schedule() -> None:
    schedule = CronSchedule.parse("0 0 */8 * * *")
    moment, seen = D(2024, 1, 1), []
    for _ in range(4):
        moment = schedule.next_after(moment)  # type: ignore[assignment]
        seen.append(moment)
    assert seen == [D(2024, 1, 1, 8), D(2024, 1, 1, 16), D(2024, 1, 2, 0), D(2024, 1, 2, 8)]


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "* * * *",  # four fields
        "* * * * * * *",  # seven fields
        "60 * * * * *",
        "* 60 * * * *",
        "* * 24 * * *",
        "* * * 0 * *",
        "* * * 32 * *",
        "* * * * 13 *",
        "* * * * * 7",  # NCrontab's day-of-week is 0-6
        "*/0 * * * * *",
        "5-1 * * * * *",
        "1,,2 * * * * *",
        "* * * * Foo *",
        "a b c d e f",
        "-5 * * * * *",
    ],
)
def test_invalid_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(CronError):
        CronSchedule.parse(expression)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:05:00", timedelta(minutes=5)),
        ("00:00:01", timedelta(seconds=1)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("00:00:00.5", timedelta(milliseconds=500)),
        ("01:30", timedelta(hours=1, minutes=30)),
    ],
)
def test_timespan(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


@pytest.mark.parametrize("text", ["", "5", "2000", "24:00:00", "00:60:00", "00:00:60", "1:2:3:4", "soon"])
def test_invalid_timespans(text: str) -> None:
    with pytest.raises(TimeSpanError):
        parse_timespan(text)


def test_timespan_schedule_is_an_interval_from_the_last_run() -> None:
    schedule = parse_schedule("00:05:00")
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.next_after(D(2024, 1, 1, 10, 2, 30)) == D(2024, 1, 1, 10, 7, 30)


def test_cron_wins_over_timespan_and_bad_schedules_say_why() -> None:
    assert isinstance(parse_schedule("0 */5 * * * *"), CronSchedule)
    with pytest.raises(CronError, match="neither NCRONTAB nor a TimeSpan"):
        parse_schedule("every five minutes")
    with pytest.raises(CronError, match="positive"):
        parse_schedule("00:00:00")
