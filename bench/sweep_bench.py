"""Section 1, the headline: the sync sweep against a per-link sync loop on one fleet.

The fleet is built once; each variant runs in its own process against the same starting rows
(the rows the first variant wrote are put back before the second), with the emulators adding
the same latency to every Key Vault request.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from bench.fleet import Fleet, FleetShape, build_fleet
from bench.measure import Stopwatch, VaultRequests
from bench.report import Row
from bench.stack import BenchStack, app_env
from bench.verify import Verification, restore, same_rows, snapshot, verify
from bench.worker import run_variant_process
from shared.app_context import AppContext
from shared.settings import Settings

SECTION = "sweep vs naive"


@dataclass
class VariantRun:
    name: str
    seconds: float
    outcome: dict
    table_requests: dict[str, int]
    kv: VaultRequests
    peak_rss_mb: float
    baseline_rss_mb: float
    verification: Verification


@dataclass
class SweepBench:
    fleet: Fleet
    vault_urls: list[str]
    latency_ms: int
    build_seconds: float
    restored_rows: int
    sweep: VariantRun
    naive: VariantRun
    without_metrics: VariantRun


def run(stack: BenchStack, shape: FleetShape, latency_ms: int, naive_workers: int, log=print) -> SweepBench:
    env = app_env(stack.connection, stack.vault_urls[0], stack.cert, CERTSYNC_TABLE_PREFIX="benchfleet", OPERATIONS_QUEUE="bench-fleet")
    ctx = AppContext.from_settings(Settings.from_env(env))
    log(f"building the fleet: {shape.links} links, {shape.secrets} secrets in {len(stack.vault_urls)} vaults")
    with Stopwatch() as build:
        fleet = build_fleet(ctx, shape, stack.vault_urls)
    log(f"fleet built in {build.seconds:.0f}s: {len(fleet.bindings)} bindings, {shape.changed} secrets changed")
    for admin in stack.admins:
        admin.set_latency(latency_ms)
    original = snapshot(ctx)
    sweep = _measure(stack, ctx, fleet, env, "sweep", {}, original, log)
    restored = _restore(ctx, original)
    without = _measure(stack, ctx, fleet, env, "sweep-without-metrics", {}, original, log)
    _restore(ctx, original)
    naive = _measure(stack, ctx, fleet, env, "naive", {"workers": naive_workers}, original, log)
    return SweepBench(fleet, stack.vault_urls, latency_ms, build.seconds, restored, sweep, naive, without)


def _restore(ctx: AppContext, original) -> int:
    restored = restore(ctx, original, snapshot(ctx))
    if not same_rows(original, snapshot(ctx)):
        raise RuntimeError("restoring the fleet after a run did not give back the original rows")
    return restored


def _measure(stack, ctx, fleet, env, variant, options, before, log) -> VariantRun:
    log(f"running {variant} {options or ''}".rstrip())
    kv = VaultRequests(stack.admins)
    with kv.measure():
        result = run_variant_process(variant, env, options)
    verification = verify(fleet, before, snapshot(ctx))
    log(f"{variant}: {result['seconds']:.1f}s, {kv.total} Key Vault requests, {result['tableRequests']['total']} Table requests; {verification.summary()}")
    return VariantRun(
        variant, result["seconds"], result["outcome"], result["tableRequests"], kv,
        result["peakRssMb"], result["baselineRssMb"], verification,
    )  # fmt: skip


def rows(bench: SweepBench) -> list[Row]:
    s, n, w, fleet = bench.sweep, bench.naive, bench.without_metrics, bench.fleet
    overhead = (s.seconds / w.seconds - 1) * 100
    out = [
        Row(SECTION, "wall time: sweep / naive", f"{s.seconds:.1f} s / {n.seconds:.1f} s ({n.seconds / s.seconds:.1f}x)",
            f"sweep < 60 s for {len(fleet.links):,} links", s.seconds < 60),
        Row(SECTION, "Key Vault requests: sweep / naive", f"{s.kv.total:,} / {n.kv.total:,} ({n.kv.total / max(s.kv.total, 1):.1f}x fewer)",
            ">= 10x fewer", n.kv.total >= 10 * s.kv.total),
        Row(SECTION, "  sweep, by operation", _ops(s.kv)),
        Row(SECTION, "  naive, by operation", _ops(n.kv)),
    ]  # fmt: skip
    for index, url in enumerate(bench.vault_urls):
        secrets, changed = fleet.secrets_in(url), fleet.changed_in(url)
        lists, gets = s.kv.per_vault[index].get("listSecrets", 0), s.kv.per_vault[index].get("getSecret", 0)
        budget_lists = math.ceil(secrets / 25)
        out.append(
            Row(SECTION, f"  sweep, vault {index + 1} ({secrets} secrets, {changed} changed)", f"{lists} lists + {gets} GETs",
                f"<= {budget_lists} lists + {changed} GETs", lists <= budget_lists and gets <= changed)
        )  # fmt: skip
    other = s.kv.operations_other_than({"listSecrets", "getSecret"})
    if other:
        out.append(Row(SECTION, "  sweep, other Key Vault operations", _ops_dict(other), "none", False))
    out += [
        Row(SECTION, "Table requests: sweep / naive", f"{s.table_requests['total']:,} / {n.table_requests['total']:,} ({n.table_requests['total'] / max(s.table_requests['total'], 1):.1f}x)"),
        Row(SECTION, "  sweep, by method", _ops_dict({k: v for k, v in s.table_requests.items() if k != "total"})),
        Row(SECTION, "  naive, by method", _ops_dict({k: v for k, v in n.table_requests.items() if k != "total"})),
        Row(SECTION, "peak RSS: sweep / naive", f"{s.peak_rss_mb:.0f} MB / {n.peak_rss_mb:.0f} MB (idle process: {s.baseline_rss_mb:.0f} MB)",
            "sweep < 300 MB", s.peak_rss_mb < 300),
        Row(SECTION, "metrics overhead: sweep with / without metrics",
            f"{s.seconds:.1f} s / {w.seconds:.1f} s ({overhead:+.1f} %)", "< 5 %", overhead < 5),
        Row(SECTION, "correct: sweep", s.verification.summary(), "all changed moved, rest untouched", s.verification.ok),
        Row(SECTION, "correct: sweep without metrics", w.verification.summary(), "all changed moved, rest untouched",
            w.verification.ok),
        Row(SECTION, "correct: naive", n.verification.summary(), "all changed moved, rest untouched", n.verification.ok),
    ]  # fmt: skip
    return out


def describe(bench: SweepBench) -> str:
    fleet, shape = bench.fleet, bench.fleet.shape
    workers = bench.naive.outcome.get("workers", 1)
    loop = "a plain sequential loop" if workers == 1 else f"a loop on {workers} threads (flatters its wall time; its requests are the same)"
    return f"""
{len(fleet.links):,} links over {len(fleet.secrets):,} secrets in {len(bench.vault_urls)} Key Vault emulators
({len(fleet.bindings):,} bindings, one or two per link); {shape.changed} secrets ({shape.changed_fraction:.0%}) got a new
PFX version written with the SDK outside certsync, which moves {fleet.changed_links:,} links. Every Key Vault request
waited an added {bench.latency_ms} ms (`PUT /_emulator/faults {{"latencyMs": {bench.latency_ms}}}`) to resemble a real vault.
Links and bindings were written straight through the repositories (fleet built in {bench.build_seconds:.0f} s), none due
for the sweep's periodic full check.

- **sweep**: `run_sweep(ctx)` (shared/sweep.py), as the `sync_sweep` timer runs it.
- **sweep without metrics**: the same `run_sweep(ctx)` with OpenTelemetry's no-op meter provider, on the same
  starting rows, for the overhead of the metrics (operations, dependency requests, sweep); target under 5 %.
- **naive**: for every link, `fetch_current` (one GET of its secret) then `sync_link(ctx, name, current)`: what a
  per-link sync loop does; here {loop}.

Each variant ran in its own process (peak RSS of that process, including the interpreter and SDKs; see Notes);
Key Vault requests are the difference of both emulators' `/_emulator/counters` (`challenge` = the 401 token
handshake each new client makes); Table requests are counted by an azure-core `raw_request_hook` on the context's
TableServiceClient, by HTTP method (GET = a query page or point read; POST = an insert, a table creation or an
entity-group transaction of up to 100 writes; PUT = an update). After the sweep, the {bench.restored_rows:,} rows it wrote were put back and checked field by field
against the original rows before the naive run started. "Correct" compares every link and binding afterwards:
changed links hold the new version and thumbprint, all their bindings too, and every other row kept its ETag.
"""


def _ops(kv: VaultRequests) -> str:
    return _ops_dict(kv.by_operation())


def _ops_dict(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in values.items()) or "none"
