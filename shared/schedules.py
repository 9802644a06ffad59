"""How far apart the runs of a timer schedule can be (NCRONTAB or TimeSpan), for the renewal
policy's "fewer than two runs left" rule. Pure; a shape not computed exactly answers a day
(every day) or a week (some days only), the safe side: renewing early, never late."""
from __future__ import annotations

import re
from datetime import timedelta

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")
_FIXED = re.compile(r"^\d+$")
_STEP = re.compile(r"^\*/(\d+)$")
_LIST = re.compile(r"^\d+(,\d+)*$")
DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def longest_gap(schedule: str) -> timedelta:
    """The longest time between two runs of `schedule`; a day when the shape is not one of the
    common ones (every N hours or minutes, listed hours, a TimeSpan)."""
    span = _TIMESPAN.match(schedule.strip())
    if span:
        days, hours, minutes, seconds = (int(part or 0) for part in span.groups())
        gap = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        return gap if gap > timedelta(0) else DAY
    fields = schedule.split()
    if len(fields) != 6 or fields[3:] != ["*", "*", "*"]:
        return WEEK
    if not _FIXED.match(fields[0]):
        return DAY
    minute, hour = fields[1], fields[2]
    if _FIXED.match(minute):
        return _hours_gap(hour)
    step = _STEP.match(minute)
    if hour == "*" and (step or minute == "*"):
        return timedelta(minutes=int(step.group(1)) if step else 1)
    return DAY


def _hours_gap(hour: str) -> timedelta:
    if hour == "*":
        return timedelta(hours=1)
    step = _STEP.match(hour)
    if step:
        return timedelta(hours=max(1, min(24, int(step.group(1)))))
    if _LIST.match(hour):
        hours = sorted({int(h) for h in hour.split(",")})
        gaps = [b - a for a, b in zip(hours, [*hours[1:], hours[0] + 24], strict=True)]
        return timedelta(hours=max(gaps))
    return DAY
