"""Operations of one certificate: the target index (`GET /api/operations?target=X`, the dashboard's
history) against the filtered scan of the whole operation partition it replaced, side by side on
one table in one run."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.measure import Stopwatch, counting_context, median
from bench.report import Row
from bench.stack import BenchStack, app_env
from shared.model import OperationKind, OperationStatus
from shared.operations import new_operation
from shared.settings import Settings

SECTION = "Operations of one certificate"
KINDS = (OperationKind.RENEW, OperationKind.SYNC_CERTIFICATE, OperationKind.DELIVER_WEBHOOK)


@dataclass
class Result:
    operations: int
    targets: int
    found: int
    index_seconds: list[float]
    index_requests: float
    scan_seconds: list[float]
    scan_requests: float


def run(stack: BenchStack, log: Callable[[str], None], sizes: tuple[int, ...] = (2_000, 10_000), per_target: int = 50,
        repeats: int = 10) -> list[Result]:  # fmt: skip
    """The same table measured at each size (it grows between them), so the ratio's trend shows."""
    env = app_env(stack.connection, stack.vault_urls[0], stack.cert, CERTSYNC_TABLE_PREFIX="benchopsindex",
                  OPERATIONS_QUEUE="bench-ops-index")  # fmt: skip
    ctx, tables = counting_context(Settings.from_env(env))
    ctx.operations.backfill_index(60)  # an empty table: the index is complete from the first row on
    written, results = 0, []
    for size in sizes:
        log(f"operations index: {size:,} operations, {per_target} per certificate")
        _write(ctx, range(written, size), per_target)
        written = size
        results.append(_measure(ctx, tables, size, per_target, repeats))
    return results


def _write(ctx, numbers: range, per_target: int) -> None:
    ops = []
    for n in numbers:
        op = new_operation(KINDS[n % len(KINDS)], f"cert-{n // per_target:04d}")
        op.status = OperationStatus.SUCCEEDED
        ops.append(op)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(ctx.operations.add, ops))


def _measure(ctx, tables, size: int, per_target: int, repeats: int) -> Result:
    target = "cert-0007"
    raw = ctx.store.table("operations")

    def by_index() -> int:
        return len(ctx.operations.list(target=target, limit=1000))

    def by_scan() -> int:  # what the list did before the index: the operation partition, filtered on Target
        rows = raw.query_entities("PartitionKey eq @pk and Target eq @t", parameters={"pk": "operation", "t": target})
        return len(list(rows))

    index_seconds, index_requests, found = _timed(by_index, tables, repeats)
    scan_seconds, scan_requests, scanned = _timed(by_scan, tables, repeats)
    if found != scanned or found != per_target:
        raise RuntimeError(f"the index found {found} operations, the scan {scanned}; expected {per_target}")
    return Result(size, size // per_target, found, index_seconds, index_requests, scan_seconds, scan_requests)


def _timed(fetch: Callable[[], int], tables, repeats: int) -> tuple[list[float], float, int]:
    found, seconds, before = fetch(), [], tables.total  # the first one warms the connection
    for _ in range(repeats):
        with Stopwatch() as watch:
            found = fetch()
        seconds.append(watch.seconds)
    return seconds, (tables.total - before) / repeats, found


def rows(results: list[Result]) -> list[Row]:
    out = []
    for result in results:
        index, scan = median(result.index_seconds), median(result.scan_seconds)
        shape = f"{result.found} of {result.operations:,} operations, {result.targets} certificates"
        out.append(Row(SECTION, f"operations of one certificate ({shape}): index / filtered scan, median of "
                                f"{len(result.index_seconds)}",
                       f"{index * 1000:.0f} ms ({result.index_requests:.0f} request) / {scan * 1000:.0f} ms "
                       f"({result.scan_requests:.0f} request): scan = {scan / index:.1f}x the index"))  # fmt: skip
    return out


DESCRIPTION = """
Every operation of one certificate, as `GET /api/operations?target=X` and the dashboard's history read them: through
the target's index partition, whose entries are copies of the finished operations (`OperationRepository.list(target=...)`),
against the query the list made before the index existed (the operation partition filtered on `Target`), on the same
table in the same run, measured as the table grows. Every certificate has 50 finished operations of three kinds,
written through the repository (row and index copies). Azurite holds its tables in memory and answers the scan in one
request; Table Storage reads at most 1,000 rows (or 5 s) per request, so there the scan also costs a request per
1,000 operations in the table, and the index one request whatever the table holds.
"""
