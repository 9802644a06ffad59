"""A clock for the fake vault that moves on by a fixed step at every reading, so each version
written gets its own "updated" second (step 1 s) or all share one (step 0), as a test needs."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.clock import utcnow


@dataclass
class TickingClock:
    step: timedelta = timedelta(seconds=1)
    now: datetime = field(default_factory=lambda: utcnow().replace(microsecond=0))

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now
