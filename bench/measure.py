"""What the bench counts: Table requests (an azure-core hook), Key Vault requests (emulator
counters), wall time and peak RSS."""
from __future__ import annotations

import resource
import statistics
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from bench.stack import EmulatorAdmin
from shared.app_context import AppContext
from shared.settings import Settings
from shared.storage_clients import StorageClients

# Emulator counters that are not Key Vault operations (or are counted twice).
_NOT_OPERATIONS = {"total", "fault", "unknown", "challenge"}


class TableRequestCounter:
    """Counts every HTTP request the Table client sends, by method (GET = query page or point
    read; POST = insert, table creation or an entity-group transaction ($batch); PUT/MERGE =
    update; DELETE)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_method: Counter[str] = Counter()

    def observe(self, request) -> None:  # azure-core raw_request_hook
        with self._lock:
            self.by_method[request.http_request.method] += 1

    @property
    def total(self) -> int:
        return sum(self.by_method.values())

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, **dict(sorted(self.by_method.items()))}


def counting_context(settings: Settings) -> tuple[AppContext, TableRequestCounter]:
    """The app's own context, with its TableStore's service client swapped for one that
    reports every request (the repositories reach Table Storage only through it)."""
    ctx = AppContext.from_settings(settings)
    counter = TableRequestCounter()
    ctx.store.service.close()
    ctx.store.service = StorageClients(settings.storage).table_service(raw_request_hook=counter.observe)
    return ctx, counter


class VaultRequests:
    """Key Vault requests during a block: the difference of the emulators' counters."""

    def __init__(self, admins: Iterable[EmulatorAdmin]) -> None:
        self.admins = list(admins)
        self._before: list[dict[str, int]] = []
        self.per_vault: list[dict[str, int]] = []

    @contextmanager
    def measure(self) -> Iterator["VaultRequests"]:
        self._before = [admin.counters() for admin in self.admins]
        try:
            yield self
        finally:
            after = [admin.counters() for admin in self.admins]
            self.per_vault = [_delta(b, a) for b, a in zip(self._before, after)]

    @property
    def total(self) -> int:
        return sum(v.get("total", 0) for v in self.per_vault)

    def operation(self, name: str) -> int:
        return sum(v.get(name, 0) for v in self.per_vault)

    def by_operation(self) -> dict[str, int]:
        """Summed over vaults; zero counts left out. `challenge` is the 401 token handshake."""
        summed: Counter[str] = Counter()
        for vault in self.per_vault:
            summed.update({k: v for k, v in vault.items() if k != "total" and v})
        return dict(sorted(summed.items()))

    def operations_other_than(self, allowed: set[str]) -> dict[str, int]:
        return {k: v for k, v in self.by_operation().items() if k not in allowed | _NOT_OPERATIONS}


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}


def peak_rss_mb() -> float:
    """Peak resident set size of this process image: VmHWM from /proc/self/status.

    Not getrusage's ru_maxrss: on Linux a child inherits its parent's high-water mark across
    fork and exec, so a worker started by the bench (which holds the whole fleet in memory)
    would report the bench's peak instead of its own. ru_maxrss is the fallback off Linux.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    def __enter__(self) -> "Stopwatch":
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.started


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))
