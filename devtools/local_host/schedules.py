"""A timer trigger's `schedule`: an NCRONTAB expression or a TimeSpan interval, like the host.

The host tries NCRONTAB first and falls back to TimeSpan ("00:05:00" = every five minutes
after the previous run), so "%SETTING%" must already be resolved when this is called.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from devtools.local_host.ncrontab import CronError, CronSchedule
from devtools.local_host.timespan import TimeSpanError, parse_timespan


class TimerSchedule(Protocol):
    @property
    def expression(self) -> str: ...

    def next_after(self, moment: datetime) -> datetime | None: ...


@dataclass(frozen=True)
class IntervalSchedule:
    """Fires every `interval` after the previous occurrence (the host's ConstantSchedule)."""

    expression: str
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime | None:
        return moment + self.interval


def parse_schedule(expression: str) -> TimerSchedule:
    """Cron first, then TimeSpan; the error names both so the author sees what was tried."""
    try:
        return CronSchedule.parse(expression)
    except CronError as cron_error:
        try:
            interval = parse_timespan(expression)
        except TimeSpanError:
            raise CronError(f"schedule {expression!r} is neither NCRONTAB nor a TimeSpan: {cron_error}") from None
        if interval <= timedelta(0):
            raise CronError(f"schedule {expression!r}: a TimeSpan interval must be positive") from None
        return IntervalSchedule(expression, interval)
