"""Retention: finished operations and webhook deliveries older than OPERATION_RETENTION_DAYS are
deleted, so the two tables stop growing (a webhook delivery alone adds an operation per attempt).

Run by the sync_sweep timer (one instance at a time: the host's blob-lease lock), after giving
operations written before the target/kind index their entries (half the budget at most), a page
at a time within a time budget; what one run does not reach, the next one does. Ids start with the
inverted creation time, so "older than the cutoff" is one RowKey range. A row is deleted with
the ETag it was read with (one changed meanwhile stays), and never while Queued or Running. A
certificate keeps its newest operation and its active one, whatever their age: the overview
shows the active one and the dashboard's history would otherwise be empty.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from shared.app_context import AppContext
from shared.clock import utcnow
from shared.errors import CertsyncError, PreconditionFailed
from shared.model import NAME_PATTERN, Delivery, Operation
from shared.operations import id_prefix

log = logging.getLogger("certsync.retention")
PAGE = 100  # rows read per query
BUDGET_SECONDS = 60.0  # per timer run, well inside the Functions time limit
T = TypeVar("T", Operation, Delivery)


@dataclass
class RetentionReport:
    operations_deleted: int = 0
    deliveries_deleted: int = 0
    kept: int = 0  # old and finished, but a certificate's newest or active one, or changed meanwhile
    complete: bool = True  # False: the budget ran out; the next run goes on
    index_complete: bool = True  # False: rows from before the target/kind index still lack entries


def prune_history(
    ctx: AppContext, now: datetime | None = None, budget_seconds: float = BUDGET_SECONDS
) -> RetentionReport:
    """Delete what is past retention, until done or out of time."""
    now = now or utcnow()
    cutoff = id_prefix(now - timedelta(days=ctx.settings.operation_retention_days))  # older ids sort above it
    deadline = time.monotonic() + budget_seconds
    report = RetentionReport()
    report.index_complete = ctx.operations.backfill_index(budget_seconds / 2)
    shown = _ShownOperations(ctx)
    report.operations_deleted = _prune(
        ctx.operations.finished_after, ctx.operations.delete, shown.keeps, cutoff, deadline, report
    )
    report.deliveries_deleted = _prune(
        ctx.deliveries.finished_after, ctx.deliveries.delete, lambda _: False, cutoff, deadline, report
    )
    return report


def _prune(
    read: Callable[[str, int], Sequence[T]],
    delete: Callable[[T], None],
    keeps: Callable[[T], bool],
    cutoff: str,
    deadline: float,
    report: RetentionReport,
) -> int:
    deleted, after = 0, cutoff
    while True:
        if time.monotonic() >= deadline:
            report.complete = False
            return deleted
        page = read(after, PAGE)
        for row in page:
            if keeps(row):
                report.kept += 1
                continue
            try:
                delete(row)
                deleted += 1
            except PreconditionFailed:  # changed since it was read: look again next run
                report.kept += 1
        if len(page) < PAGE:
            return deleted
        after = page[-1].id


class _ShownOperations:
    """Which old operations a certificate still shows: its newest, and its active one. One
    certificate read and one index read per target, however many of its operations are old."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.shown: dict[str, set[str] | None] = {}  # None: unsure, keep them all this run

    def keeps(self, op: Operation) -> bool:
        if op.target not in self.shown:
            self.shown[op.target] = self._of(op.target)
        shown = self.shown[op.target]
        return shown is None or op.id in shown

    def _of(self, target: str) -> set[str] | None:
        if not NAME_PATTERN.fullmatch(target):
            return set()  # not a certificate's name (a sweep's vault): nothing shows it
        try:
            cert = self.ctx.certificates.find(target)
            if cert is None:
                return set()
            return {i for i in (cert.active_operation, self.ctx.operations.latest_of(target)) if i}
        except CertsyncError as err:
            log.warning("retention keeps the operations of %s for now: %s", target, err.code)
            return None
