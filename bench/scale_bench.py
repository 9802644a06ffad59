"""Scale: the sync sweep over a large fleet in many vaults, run by 1 and by 3 instances.

Each run starts N local function hosts on one fleet (restored between runs), asks one of them
to run the `sync_sweep` timer (admin endpoint), and waits until every sweep unit it queued,
continuations included, has finished on whichever instance took it.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests

from bench.fleet import Fleet, FleetShape, build_fleet
from bench.measure import Stopwatch, VaultRequests
from bench.report import Row
from bench.stack import BenchStack, app_env
from bench.verify import TableSnapshot, Verification, restore, same_rows, snapshot, verify
from devtools.processes import Service, env_only_host, free_port
from shared.app_context import AppContext
from shared.clock import utcnow
from shared.model import Operation, OperationKind, OperationStatus
from shared.settings import Settings
from shared.sweep import DEFAULT_BUDGET_SECONDS

SECTION = "scale"
PREFIX = "benchscale"
CONSUMPTION_LIMIT_SECONDS = 600
KV_LIMIT_PER_10S = 4000  # Key Vault secrets transactions per vault per 10 s (service limits)
PARTITION_ENTITIES_PER_S = 2000  # Table Storage target throughput of one partition
UNIT_RUN = re.compile(r"Executing 'Functions\.run_operation_queue'")


@dataclass
class InstanceFigures:
    units: int
    peak_rss_mb: float


@dataclass
class ScaleRun:
    instances: int
    seconds: float
    kv: VaultRequests
    units: list[Operation]
    per_instance: list[InstanceFigures]
    verification: Verification

    @property
    def vault_units(self) -> list[Operation]:
        return [op for op in self.units if op.parameters.get("vault")]

    @property
    def continuations(self) -> int:
        return sum(1 for op in self.units if op.parameters.get("after"))

    def longest_unit(self) -> float:
        return max((float(op.result.get("seconds", 0)) for op in self.units), default=0.0)


@dataclass
class ScaleBench:
    fleet: Fleet
    vaults: int
    latency_ms: int
    budget_seconds: float
    build_seconds: float
    runs: list[ScaleRun] = field(default_factory=list)


def run(base: Path, shape: FleetShape, vaults: int, latency_ms: int, log: Callable[[str], None] = print) -> ScaleBench:
    stack = BenchStack(base)
    try:
        log(f"scale: starting Azurite and {vaults} Key Vault emulators")
        stack.start_storage_and_vaults(vaults)
        env = app_env(stack.connection, stack.vault_urls[0], stack.cert, CERTSYNC_TABLE_PREFIX=PREFIX,
                      OPERATIONS_QUEUE="bench-scale-ops")  # fmt: skip
        ctx = AppContext.from_settings(Settings.from_env(env))
        log(f"scale: building {shape.links} links, {shape.secrets} secrets in {vaults} vaults")
        with Stopwatch() as build:
            fleet = build_fleet(ctx, shape, stack.vault_urls)
        log(f"scale: fleet built in {build.seconds:.0f}s")
        for admin in stack.admins:
            admin.set_latency(latency_ms)
        bench = ScaleBench(fleet, vaults, latency_ms, DEFAULT_BUDGET_SECONDS, build.seconds)
        original = snapshot(ctx)
        for count in (1, 3):
            start = snapshot(ctx)
            if not same_rows(original, start):
                raise RuntimeError("the fleet was not restored between runs")
            bench.runs.append(_measure(stack, ctx, fleet, env, count, start, log))
            restore(ctx, original, snapshot(ctx))
        return bench
    finally:
        stack.close()


def _measure(stack: BenchStack, ctx: AppContext, fleet: Fleet, env: dict[str, str], count: int,
             before: TableSnapshot, log: Callable[[str], None]) -> ScaleRun:  # fmt: skip
    hosts: list[tuple[Service, Path, str]] = []
    try:
        for index in range(count):
            port, log_path = free_port(), stack.logs / f"scale-{count}-host-{index}.log"
            host = env_only_host(port, env, stack.base / f"scale-{count}-{index}", log_path=log_path)
            hosts.append((host, log_path, f"http://127.0.0.1:{port}"))
            host.start()
        for host, _, _ in hosts:
            host.wait_ready(90)
        log(f"scale: {count} instance(s) up; running the sweep")
        kv = VaultRequests(stack.admins)
        started_at = utcnow()
        with kv.measure(), Stopwatch() as clock:
            _trigger_sweep(hosts[0][2])
            units = _wait_for_units(ctx, started_at, len({s.vault_url for s in fleet.secrets}))
        figures = [InstanceFigures(len(UNIT_RUN.findall(path.read_text(errors="replace"))), _peak_rss_mb(host))
                   for host, path, _ in hosts]  # fmt: skip
    finally:
        for host, _, _ in hosts:
            host.stop()
    verification = verify(fleet, before, snapshot(ctx))
    log(f"scale: {count} instance(s): {clock.seconds:.1f}s, {len(units)} units, {kv.total} KV requests; "
        f"{verification.summary()}")  # fmt: skip
    return ScaleRun(count, clock.seconds, kv, units, figures, verification)


def _trigger_sweep(host_url: str) -> None:
    """The timer, run now on one instance (what the schedule does every 15 minutes)."""
    response = requests.post(f"{host_url}/admin/functions/sync_sweep", json={"input": ""}, timeout=30)
    response.raise_for_status()


def _wait_for_units(ctx: AppContext, since: datetime, vaults: int, timeout: float = 1800) -> list[Operation]:
    """Every unit queued since `since` (one per vault, the repair, continuations) has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        units = [op for op in ctx.operations.list(kind=OperationKind.SWEEP.value, limit=100_000)
                 if op.created_at is not None and op.created_at >= since]  # fmt: skip
        done = all(op.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED) for op in units)
        pending = {op.result.get("continuation") for op in units} - {op.id for op in units} - {None}
        if len(units) > vaults and done and not pending:
            return units
        time.sleep(0.25)
    raise RuntimeError(f"the sweep units did not finish within {timeout:.0f}s")


def _peak_rss_mb(host: Service) -> float:
    """VmHWM of the host process (the app runs inside it), read before it stops."""
    assert host.process is not None
    for line in Path(f"/proc/{host.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rows(bench: ScaleBench) -> list[Row]:
    one, three = bench.runs[0], bench.runs[1]
    out = [
        Row(SECTION, "wall time: 1 instance / 3 instances", f"{one.seconds:.1f} s / {three.seconds:.1f} s "
            f"({one.seconds / max(three.seconds, 0.001):.2f}x)", "3 instances faster", three.seconds < one.seconds),
    ]  # fmt: skip
    for run_ in bench.runs:
        label = f"{run_.instances} instance(s)"
        split = f"{len(run_.vault_units)} vault units ({run_.continuations} continuations) + 1 repair"
        out += [
            Row(SECTION, f"  {label}: units", split),
            Row(SECTION, f"  {label}: longest unit", f"{run_.longest_unit():.1f} s",
                f"< {CONSUMPTION_LIMIT_SECONDS} s (Consumption limit)",
                run_.longest_unit() < CONSUMPTION_LIMIT_SECONDS),
            Row(SECTION, f"  {label}: Key Vault requests", f"{run_.kv.total:,} ({_ops(run_.kv)})"),
            Row(SECTION, f"  {label}: units run / peak RSS per instance",
                ", ".join(f"{f.units} / {f.peak_rss_mb:.0f} MB" for f in run_.per_instance)),
            Row(SECTION, f"  {label}: correct", run_.verification.summary(), "all changed moved, rest untouched",
                run_.verification.ok),
        ]  # fmt: skip
    busiest = max(max(v.get("total", 0) for v in r.kv.per_vault) for r in bench.runs)
    rate_10s = busiest / max(min(r.seconds for r in bench.runs), 0.001) * 10
    out.append(Row(SECTION, "busiest vault: requests per 10 s during the sweep", f"{rate_10s:,.0f}",
                   f"< {KV_LIMIT_PER_10S:,} (Key Vault limit per vault)", rate_10s < KV_LIMIT_PER_10S))  # fmt: skip
    return out


def _ops(kv: VaultRequests) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in kv.by_operation().items()) or "none"


def describe(bench: ScaleBench) -> str:
    fleet, shape = bench.fleet, bench.fleet.shape
    return f"""
{len(fleet.links):,} links over {len(fleet.secrets):,} secrets in {bench.vaults} Key Vault emulators
({len(fleet.bindings):,} bindings); {shape.changed} secrets ({shape.changed_fraction:.0%}) got a new version outside
certsync (fleet built in {bench.build_seconds:.0f} s), {bench.latency_ms} ms added to every Key Vault request. Each run
starts N local function hosts (`python -m devtools.local_host`, one process each) on the same tables and queue,
runs the `sync_sweep` timer once through one host's admin endpoint, and ends when every unit it queued has
finished: one `sweep` operation per vault (links found by a SecretId range, the vault listed once, bindings
read per changed secret), one binding-repair unit, and any continuation (a unit past its budget of
{bench.budget_seconds:.0f} s queues one that goes on after the last secret it finished). Any instance takes any unit
from the operations queue. Peak RSS is each host's VmHWM (the app runs inside the host); "units run" counts
queue-triggered invocations in that host's log. Table requests are not counted here: the app's Table client lives
inside the hosts. The fleet is restored and checked row by row between the runs.
"""
