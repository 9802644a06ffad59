"""Scale: the sync sweep over a large fleet in many vaults, run by 1 and by 3 instances.

Each run starts N local function hosts on one fleet (restored between runs), asks one of them
to run the `sync_sweep` timer (admin endpoint), and waits until every sweep unit it queued,
continuations included, has finished on whichever instance took it. Each host is set up as a
Consumption instance: newBatchThreshold is batchSize/2 there (the Storage Queues extension's
default N*batchSize/2 with N = 1 on Consumption; locally N would be this machine's CPUs).
"""
from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests

from bench.fleet import Fleet, FleetShape, build_fleet
from bench.instance_metrics import InstanceWork, Samples, scrape, work_between
from bench.measure import Stopwatch, VaultRequests
from bench.report import Row
from bench.stack import BenchStack, app_env
from bench.verify import TableSnapshot, Verification, restore, same_rows, snapshot, verify
from devtools.processes import ROOT, Service, env_only_host, free_port
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
INSTANCES = (1, 3)
EXECUTED = re.compile(r"Executed 'Functions\.(\w+)' \((?:Succeeded|Failed), Id=[^,]*, Duration=(\d+)ms\)")


@dataclass
class InstanceFigures:
    work: InstanceWork
    peak_rss_mb: float
    longest: tuple[float, str]  # seconds, function: the longest invocation in this host's log


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

    @property
    def requests(self) -> Counter[str]:
        """By service, as the app's clients counted them, all instances."""
        total: Counter[str] = Counter()
        for figures in self.per_instance:
            total.update(figures.work.requests)
        return total

    def longest_invocation(self) -> tuple[float, str]:
        return max((f.longest for f in self.per_instance), default=(0.0, "none"))

    def busiest_vault_per_10s(self, vault_urls: list[str]) -> float:
        """A vault's requests over the time its units ran, per 10 s; the busiest vault."""
        rates = []
        for url, counts in zip(vault_urls, self.kv.per_vault, strict=True):
            units = [op for op in self.vault_units if op.parameters["vault"] == url]
            seconds = sum(float(op.result.get("seconds", 0)) for op in units)
            rates.append(counts.get("total", 0) / max(seconds, 0.001) * 10)
        return max(rates, default=0.0)


@dataclass
class ScaleBench:
    fleet: Fleet
    vault_urls: list[str]
    latency_ms: int
    budget_seconds: float
    build_seconds: float
    batch_size: int
    runs: list[ScaleRun] = field(default_factory=list)

    @property
    def vaults(self) -> int:
        return len(self.vault_urls)


def run(base: Path, shape: FleetShape, vaults: int, latency_ms: int, log: Callable[[str], None] = print) -> ScaleBench:
    stack = BenchStack(base)
    try:
        log(f"scale: starting Azurite and {vaults} Key Vault emulators")
        stack.start_storage_and_vaults(vaults)
        batch = queue_batch_size()
        env = app_env(stack.connection, stack.vault_urls[0], stack.cert, CERTSYNC_TABLE_PREFIX=PREFIX,
                      OPERATIONS_QUEUE="bench-scale-ops",
                      AzureFunctionsJobHost__extensions__queues__newBatchThreshold=str(batch // 2))  # fmt: skip
        ctx = AppContext.from_settings(Settings.from_env(env))
        log(f"scale: building {shape.links} links, {shape.secrets} secrets in {vaults} vaults")
        with Stopwatch() as build:
            fleet = build_fleet(ctx, shape, stack.vault_urls, log)
        log(f"scale: fleet built in {build.seconds:.0f}s")
        for admin in stack.admins:
            admin.set_latency(latency_ms)
        bench = ScaleBench(fleet, stack.vault_urls, latency_ms, DEFAULT_BUDGET_SECONDS, build.seconds, batch)
        original = start = snapshot(ctx)
        for count in INSTANCES:
            if not same_rows(original, start):
                raise RuntimeError("the fleet was not restored between runs")
            result, after = _measure(stack, ctx, fleet, env, count, start, log)
            bench.runs.append(result)
            if count != INSTANCES[-1]:
                restore(ctx, original, after)
                start = snapshot(ctx)
        return bench
    finally:
        stack.close()


def queue_batch_size() -> int:
    """The app's host.json extensions.queues.batchSize (the extension's default: 16)."""
    queues = json.loads((ROOT / "host.json").read_text()).get("extensions", {}).get("queues", {})
    return int(queues.get("batchSize", 16))


def _measure(stack: BenchStack, ctx: AppContext, fleet: Fleet, env: dict[str, str], count: int,
             before: TableSnapshot, log: Callable[[str], None]) -> tuple[ScaleRun, TableSnapshot]:  # fmt: skip
    """One run, and the rows it left."""
    hosts: list[tuple[Service, Path, str]] = []
    try:
        for index in range(count):
            port, log_path = free_port(), stack.logs / f"scale-{count}-host-{index}.log"
            host = env_only_host(port, env, stack.base / f"scale-{count}-{index}", log_path=log_path)
            hosts.append((host, log_path, f"http://127.0.0.1:{port}"))
            host.start()
        for host, _, _ in hosts:
            host.wait_ready(180)
        log(f"scale: {count} instance(s) up; running the sweep")
        first: list[Samples] = [scrape(url) for _, _, url in hosts]
        kv = VaultRequests(stack.admins)
        started_at = utcnow()
        with kv.measure(), Stopwatch() as clock:
            _trigger_sweep(hosts[0][2])
            units = _wait_for_units(ctx, started_at, len({s.vault_url for s in fleet.secrets}))
        figures = [
            InstanceFigures(work_between(samples, scrape(url)), _peak_rss_mb(host), _longest_invocation(path))
            for (host, path, url), samples in zip(hosts, first, strict=True)
        ]
    finally:
        for host, _, _ in hosts:
            host.stop()
    after = snapshot(ctx)
    run_ = ScaleRun(count, clock.seconds, kv, units, figures, verify(fleet, before, after))
    log(f"scale: {count} instance(s): {clock.seconds:.1f}s, {len(units)} units, requests {dict(run_.requests)}; "
        f"{run_.verification.summary()}")  # fmt: skip
    return run_, after


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
        time.sleep(1)
    raise RuntimeError(f"the sweep units did not finish within {timeout:.0f}s")


def _peak_rss_mb(host: Service) -> float:
    """VmHWM of the host process (the app runs inside it), read before it stops."""
    assert host.process is not None
    for line in Path(f"/proc/{host.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _longest_invocation(log_path: Path) -> tuple[float, str]:
    """From the host's `Executed 'Functions.x' (..., Duration=Nms)` lines: every invocation,
    the timer's included."""
    found = [(int(ms) / 1000, name) for name, ms in EXECUTED.findall(log_path.read_text(errors="replace"))]
    return max(found, default=(0.0, "none"))


def rows(bench: ScaleBench) -> list[Row]:
    one, three = bench.runs[0], bench.runs[1]
    out = [
        Row(SECTION, "wall time: 1 instance / 3 instances", f"{one.seconds:.1f} s / {three.seconds:.1f} s "
            f"({one.seconds / max(three.seconds, 0.001):.2f}x)", "3 instances faster", three.seconds < one.seconds),
    ]  # fmt: skip
    for run_ in bench.runs:
        label = f"{run_.instances} instance(s)"
        seconds, function = run_.longest_invocation()
        repairs = len(run_.units) - len(run_.vault_units)  # the binding repair (and its continuations), orphans
        split = f"{len(run_.vault_units)} vault + {repairs} repair units ({run_.continuations} continuations)"
        out += [
            Row(SECTION, f"  {label}: units", split),
            Row(SECTION, f"  {label}: longest invocation", f"{seconds:.1f} s ({function})",
                f"< {CONSUMPTION_LIMIT_SECONDS} s (Consumption limit)", seconds < CONSUMPTION_LIMIT_SECONDS),
            Row(SECTION, f"  {label}: requests per service (the app's clients)", _services(run_.requests)),
            Row(SECTION, f"  {label}: Key Vault requests (emulators)", f"{run_.kv.total:,} ({_ops(run_.kv)})"),
        ]  # fmt: skip
        for index, figures in enumerate(run_.per_instance, start=1):
            work = figures.work
            out.append(Row(SECTION, f"  {label}: instance {index}",
                           f"{work.vault_units} vault + {work.repair_units} repair units, "
                           f"{work.busy_seconds:.0f} s busy, "
                           f"peak RSS {figures.peak_rss_mb:.0f} MB; {_services(work.requests)}"))  # fmt: skip
        out.append(Row(SECTION, f"  {label}: correct", run_.verification.summary(),
                       "all changed moved, rest untouched", run_.verification.ok))  # fmt: skip
    return out + limit_rows(bench)


def limit_rows(bench: ScaleBench) -> list[Row]:
    """Where the next limit is, from the measured counts and the fleet's shape."""
    fleet, one = bench.fleet, bench.runs[0]
    links, bindings, budget = len(fleet.links), len(fleet.bindings), bench.budget_seconds
    per_link = 1 + 2 * bindings / max(links, 1)  # the orphan unit reads each link, binding and binding index row
    repair_entities = round(links * per_link)
    repair_links_at_budget = budget * PARTITION_ENTITIES_PER_S / per_link
    busiest = max(run_.busiest_vault_per_10s(bench.vault_urls) for run_ in bench.runs)
    sequential_ceiling = 10_000 / max(bench.latency_ms, 1)
    secrets_per_vault = max(fleet.secrets_in(url) for url in bench.vault_urls)
    kv_per_secret = max(one.kv.total - one.kv.operation("challenge"), 0) / max(len(fleet.secrets), 1)
    kv_secrets_at_budget = budget / max(kv_per_secret * bench.latency_ms / 1000, 1e-9)
    return [
        Row(SECTION, "Key Vault: busiest vault, requests per 10 s while its unit ran", f"{busiest:,.0f}",
            f"< {KV_LIMIT_PER_10S:,} per vault", busiest < KV_LIMIT_PER_10S),
        Row(SECTION, "  one unit per vault, requests one after another: at most",
            f"{sequential_ceiling:,.0f} per 10 s at +{bench.latency_ms} ms, at any fleet size"),
        Row(SECTION, "  Key Vault requests per secret per sweep (measured)",
            f"{kv_per_secret:.3f} ({secrets_per_vault:,} per vault here); a vault's unit reaches the "
            f"{budget:.0f} s budget at ~{kv_secrets_at_budget:,.0f} secrets per vault (then continues)"),
        Row(SECTION, "Table: the orphan unit reads every link, binding and binding-index row",
            f"{repair_entities:,} entities here: >= {repair_entities / PARTITION_ENTITIES_PER_S:.0f} s at "
            f"{PARTITION_ENTITIES_PER_S:,}/s per partition"),
        Row(SECTION, "  it reaches the unit budget (one invocation, no continuation) at",
            f"~{repair_links_at_budget:,.0f} links ({bindings / max(links, 1):.1f} bindings each): the first limit"),
        Row(SECTION, "  each vault unit scans every link row (SecretId is no key)",
            f">= {links / PARTITION_ENTITIES_PER_S:.0f} s here; "
            f"the budget at ~{budget * PARTITION_ENTITIES_PER_S:,.0f} links"),
    ]  # fmt: skip


def _services(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {value:,}" for name, value in sorted(counts.items()) if value) or "none"


def _ops(kv: VaultRequests) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in kv.by_operation().items()) or "none"


def describe(bench: ScaleBench) -> str:
    fleet, shape = bench.fleet, bench.fleet.shape
    return f"""
{len(fleet.links):,} links over {len(fleet.secrets):,} secrets in {bench.vaults} Key Vault emulators
({len(fleet.bindings):,} bindings); {shape.changed} secrets ({shape.changed_fraction:.0%}) got a new version outside
certsync, {bench.latency_ms} ms added to every Key Vault request. The fleet was built in {bench.build_seconds:.0f} s
(bench/fleet.py: secrets from worker processes; the Table rows the repositories' add() writes, index rows included,
as entity-group transactions; a test compares them with rows written one add() at a time).

Each run starts N local function hosts (`python -m devtools.local_host`, one process each) on the same tables and
queue, runs the `sync_sweep` timer once through one host's admin endpoint, and ends when every unit it queued has
finished: one `sweep` operation per vault (links found by a SecretId range, the vault listed once, bindings read per
changed secret), one binding-repair unit, and any continuation (a unit past its budget of {bench.budget_seconds:.0f} s
queues one that goes on after the last secret it finished). Every host polls the one operations queue as the Storage
Queues extension does: it takes at most batchSize ({bench.batch_size}, host.json) messages at a time and fetches more
only once no more than newBatchThreshold ({bench.batch_size // 2}: batchSize/2, the Consumption plan's value) run,
so which instance runs which unit is decided by who polls first. "Instance" rows come from each host's own
/api/metrics (read before and after the run): the sweep operations it ran (vault units counted by the sweep's
histogram), their summed time, and the requests its Table, Queue and Key Vault clients sent (the host's own queue
polling is not the app's and is not counted). Peak RSS is each host's VmHWM (the app runs inside the host). The
longest invocation comes from the hosts' `Executed ... Duration=` log lines, the timer's included. The fleet is
restored and checked row by row between the runs.

Next limits, computed from the counts above: Key Vault allows {KV_LIMIT_PER_10S:,} requests per 10 s per vault; Table
Storage targets {PARTITION_ENTITIES_PER_S:,} entities/s per partition, and a query over many partitions is served one
partition at a time, so a scan is assumed to read at most that many entities per second.
"""
