"""The longest gap between timer runs, which the renewal policy plans for."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.schedules import longest_gap

H = timedelta(hours=1)


@pytest.mark.parametrize(
    "schedule,expected",
    [
        ("0 0 */8 * * *", 8 * H),  # the default AUTO_RENEW_SCHEDULE
        ("0 0 */4 * * *", 4 * H),
        ("0 30 */5 * * *", 5 * H),  # 20:30 -> 00:30 is shorter; the longest gap is 5 h
        ("0 0 * * * *", H),
        ("0 */15 * * * *", timedelta(minutes=15)),
        ("0 0 2,14 * * *", 12 * H),
        ("0 0 2,6 * * *", 20 * H),  # 06:00 -> 02:00 next day
        ("0 0 3 * * *", 24 * H),
        ("08:00:00", 8 * H),
        ("1.00:00:00", 24 * H),
        ("0 0 */8 * * 1-5", 7 * 24 * H),  # weekdays only: not computed exactly, so a week (the safe side)
        ("*/10 * * * * *", 24 * H),  # every day, a shape not computed exactly: a day
    ],
)
def test_longest_gap(schedule, expected):
    assert longest_gap(schedule) == expected
