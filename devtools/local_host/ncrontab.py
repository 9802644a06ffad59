"""NCRONTAB expressions as the timer trigger reads them: parse once, then ask for the next time.

Six fields `second minute hour day month day-of-week`; five fields mean second 0, as the host
allows. Day and day-of-week must BOTH match (NCrontab's rule; classic cron ORs them). Times are
wall-clock: pass naive local datetimes, as the host evaluates schedules in local time.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta

# A schedule with no occurrence in this many years never fires (e.g. "0 0 0 30 2 *").
_SEARCH_YEARS = 30


class CronError(ValueError):
    """The expression is not valid NCRONTAB; raised at start so a typo never fails silently."""


@dataclass(frozen=True)
class _FieldKind:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July",
                "August", "September", "October", "November", "December")
_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")

_FIELDS = (
    _FieldKind("second", 0, 59),
    _FieldKind("minute", 0, 59),
    _FieldKind("hour", 0, 23),
    _FieldKind("day", 1, 31),
    _FieldKind("month", 1, 12, _MONTH_NAMES),
    _FieldKind("day-of-week", 0, 6, _DAY_NAMES),
)


def _parse_value(text: str, kind: _FieldKind) -> int:
    if not text:
        raise CronError(f"empty value in the {kind.name} field")
    if text.isdigit():
        value = int(text)
    else:
        # NCrontab accepts any prefix of the English name ("Mon", "Monday", "Jan").
        matches = [i for i, name in enumerate(kind.names) if name.lower().startswith(text.lower())]
        if not matches:
            raise CronError(f"{text!r} is not a number or a known name in the {kind.name} field")
        value = matches[0] + kind.low
    if not kind.low <= value <= kind.high:
        raise CronError(f"{value} is outside {kind.low}-{kind.high} in the {kind.name} field")
    return value


def _parse_part(part: str, kind: _FieldKind) -> set[int]:
    base, slash, step_text = part.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CronError(f"step {step_text!r} in the {kind.name} field must be a positive number")
        step = int(step_text)
    if base == "*":
        first, last = kind.low, kind.high
    elif "-" in base:
        start_text, _, end_text = base.partition("-")
        first, last = _parse_value(start_text, kind), _parse_value(end_text, kind)
        if first > last:
            raise CronError(f"range {base!r} in the {kind.name} field runs backwards")
    else:
        first = _parse_value(base, kind)
        # "5/10" means from 5 to the end of the field, every 10 (NCrontab's reading).
        last = kind.high if slash else first
    return set(range(first, last + 1, step))


def _parse_field(text: str, kind: _FieldKind) -> tuple[int, ...]:
    values: set[int] = set()
    for part in text.split(","):
        values |= _parse_part(part, kind)
    return tuple(sorted(values))


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression: sorted allowed values per field."""

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise CronError(
                f"{expression!r} has {len(fields)} fields; NCRONTAB needs six: "
                "second minute hour day month day-of-week"
            )
        parsed = [_parse_field(text, kind) for text, kind in zip(fields, _FIELDS, strict=False)]
        return cls(expression, *parsed)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after `moment` (whole seconds), or None if there is none."""
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        last_day = date(min(start.year + _SEARCH_YEARS, 9999), 12, 31)
        while day <= last_day:
            if self._date_matches(day):
                from_time = (start.hour, start.minute, start.second) if day == start.date() else (0, 0, 0)
                found = self._first_time_from(*from_time)
                if found is not None:
                    return datetime(day.year, day.month, day.day, *found, tzinfo=moment.tzinfo)
            day += timedelta(days=1)
        return None

    def _date_matches(self, day: date) -> bool:
        cron_weekday = (day.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
        return day.month in self.months and day.day in self.days and cron_weekday in self.days_of_week

    def _first_time_from(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        """Earliest allowed (h, m, s) at or after the given time of day."""
        for h in self.hours[bisect_left(self.hours, hour):]:
            if h > hour:
                return h, self.minutes[0], self.seconds[0]
            for m in self.minutes[bisect_left(self.minutes, minute):]:
                if m > minute:
                    return h, m, self.seconds[0]
                index = bisect_left(self.seconds, second)
                if index < len(self.seconds):
                    return h, m, self.seconds[index]
        return None
