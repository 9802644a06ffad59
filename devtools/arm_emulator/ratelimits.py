"""ARM's x-ms-ratelimit-remaining-subscription-* headers: a per-subscription hourly budget.

Guess: ARM now uses token buckets per region; the emulator counts per clock hour and never
throttles by itself (429s come from fault injection).
"""

from __future__ import annotations

import threading
import time

from devtools.arm_emulator.protocol import DELETES_PER_HOUR, READS_PER_HOUR, WRITES_PER_HOUR

_BUDGETS = {"reads": READS_PER_HOUR, "writes": WRITES_PER_HOUR, "deletes": DELETES_PER_HOUR}
_KIND_OF_METHOD = {"GET": "reads", "HEAD": "reads", "PUT": "writes", "PATCH": "writes", "POST": "writes"}


class RateLimits:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}

    def spend(self, subscription: str, method: str) -> dict[str, str]:
        """Count one request; the header ARM would send with its answer."""
        kind = _KIND_OF_METHOD.get(method, "deletes")
        hour = int(time.time() // 3600)
        key = (subscription.lower(), kind)
        with self._lock:
            started, used = self._counts.get(key, (hour, 0))
            used = used + 1 if started == hour else 1
            self._counts[key] = (hour, used)
        return {f"x-ms-ratelimit-remaining-subscription-{kind}": str(max(0, _BUDGETS[kind] - used))}
