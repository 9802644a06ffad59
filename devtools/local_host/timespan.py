""".NET TimeSpan strings ("00:00:02", "1.02:00:00"), as host.json and TimeSpan timer schedules write them.

One parser so host.json durations and timer intervals agree on what a string means.
"""
from __future__ import annotations

import re
from datetime import timedelta

_TIMESPAN = re.compile(
    r"^\s*(?P<sign>-)?(?:(?P<days>\d+)\.)?(?P<hours>\d{1,2}):(?P<minutes>\d{1,2})"
    r"(?::(?P<seconds>\d{1,2})(?:\.(?P<fraction>\d{1,7}))?)?\s*$"
)


class TimeSpanError(ValueError):
    """The text is not a TimeSpan the Functions host would accept."""


def parse_timespan(text: str) -> timedelta:
    """Parse `[-][d.]hh:mm[:ss[.fffffff]]`; plain numbers are refused on purpose.

    The real host reads a bare number as *days* (TimeSpan.Parse("2000") is 2000 days), which is
    never what a host.json author meant, so we fail loudly instead of guessing.
    """
    match = _TIMESPAN.match(text) if isinstance(text, str) else None
    if not match:
        raise TimeSpanError(f"{text!r} is not a TimeSpan like '00:00:30' or '1.00:00:00'")
    hours, minutes = int(match["hours"]), int(match["minutes"])
    seconds = int(match["seconds"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise TimeSpanError(f"{text!r} has an hour, minute or second out of range")
    fraction = match["fraction"] or "0"
    value = timedelta(
        days=int(match["days"] or 0),
        hours=hours,
        minutes=minutes,
        seconds=seconds,
        microseconds=int(fraction.ljust(7, "0")) // 10,
    )
    return -value if match["sign"] else value
