"""The background sync sweep: find links whose secret changed outside certsync and sync them.

Change is detected from secret *metadata* (one paged list per vault, 25 per page); a secret's
value is fetched only when its latest version differs from what its links hold, once per
secret however many links share it. Unchanged links cause no Table writes. A run that is cut
short (time budget, Functions timeout) leaves the remaining secrets still "changed", so the
next run finishes them: the state itself is the checkpoint.

On many instances the timer only plans: one `sweep` operation per vault (its links found by a
SecretId range, its secrets listed once), one for the binding repair pass and one for orphaned
bindings (and the App Service pass), all on the operations queue, so every instance takes units.
A vault unit, the binding repair (pages of links in key order) and the App Service unit
(resources by secret id, then resource id) that reach their time budget queue a continuation
of themselves, so no invocation nears the Functions time limit; a continuation's id is derived
from its unit's, so a redelivered unit never queues a second one.
"""
from __future__ import annotations

import logging
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared import telemetry
from shared.app_context import AppContext
from shared.appservice import sync as appservice
from shared.clock import utcnow
from shared.errors import CertsyncError
from shared.model import LinkedCertificate, Operation, OperationKind, SslBinding
from shared.operations import derived_operation_id, new_operation, submit, submit_once
from shared.secret_refs import SecretRef, parse_secret_id
from shared.sync.executor import record_sync_error, sync_link, sync_links_of_secret
from shared.sync.orphans import repair_orphans
from shared.sync.planner import same_instant
from shared.vault import SecretVersion

log = logging.getLogger("certsync.sweep")
DEFAULT_BUDGET_SECONDS = 480.0  # inside the 10-minute Consumption limit, with room to record
SYNC_SETTLES_WITHIN = timedelta(minutes=2)  # a sync moves a link's bindings well within this
REPAIR_PAGE_LINKS = 100  # links per repair page: their bindings are read through the link index


@dataclass
class SweepReport:
    links: int = 0
    secrets: int = 0
    vaults: int = 0
    changed_secrets: int = 0
    links_changed: int = 0
    bindings_repaired: int = 0
    orphans_removed: int = 0
    bindings_updated: int = 0
    failed_links: dict[str, str] = field(default_factory=dict)
    unfinished_secrets: int = 0
    seconds: float = 0.0
    changed_ids: set[str] = field(default_factory=set, repr=False)
    synced_secrets: set[str] = field(default_factory=set, repr=False)
    app_service: dict = field(default_factory=dict)  # the App Service pass (run_sweep only)

    def as_result(self) -> dict:
        """What a sweep unit's operation records (no secret material: names and counts)."""
        return {
            "links": self.links, "secrets": self.secrets, "changedSecrets": self.changed_secrets,
            "linksChanged": self.links_changed, "bindingsUpdated": self.bindings_updated,
            "failedLinks": len(self.failed_links), "unfinishedSecrets": self.unfinished_secrets,
            "seconds": round(self.seconds, 3),
        }  # fmt: skip


@dataclass
class RepairReport:
    """One binding-repair unit: how far it got (`last_done`, the key of its last link) and why it stopped."""

    links: int = 0
    pages: int = 0
    bindings_repaired: int = 0
    moved_meanwhile: int = 0  # lagging as read, but synced by someone else before we got to it
    last_done: tuple[str, str] | None = None
    unfinished: bool = False
    seconds: float = 0.0

    def as_result(self) -> dict:
        return {
            "links": self.links, "pages": self.pages, "bindingsRepaired": self.bindings_repaired,
            "movedMeanwhile": self.moved_meanwhile, "seconds": round(self.seconds, 3),
        }  # fmt: skip


@dataclass(frozen=True)
class SecretGroup:
    ref: SecretRef
    links: list[LinkedCertificate]


def run_sweep(
    ctx: AppContext, budget_seconds: float = DEFAULT_BUDGET_SECONDS, now: datetime | None = None
) -> SweepReport:
    """The whole sweep in one invocation (one instance, small fleets, tests)."""
    started, now = time.monotonic(), now or utcnow()
    links = ctx.links.list()
    bindings = ctx.bindings.for_links(link.name for link in links)
    report = _sync_changed(ctx, links, bindings, started, budget_seconds, now)
    if ctx.app_service is not None:
        report.app_service = _sweep_app_service(ctx)
    report.bindings_repaired = _repair_lagging_bindings(ctx, links, bindings, report.changed_ids)
    report.orphans_removed = repair_orphans(ctx, (link.name for link in links), now)
    report.seconds = time.monotonic() - started
    telemetry.instruments().record_sweep(report.seconds, report.changed_secrets, "all")
    return report


def plan_sweep(ctx: AppContext) -> list[str]:
    """The vaults the links use, each one unit of work."""
    vaults = set()
    for link in ctx.links.list():
        try:
            vaults.add(parse_secret_id(link.secret_id).vault_url)
        except CertsyncError:
            continue
    return sorted(vaults)


def start_sweep(ctx: AppContext, budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> list[Operation]:
    """The timer's part on many instances: queue one unit per vault and the binding repair."""
    units = [{"vault": vault, "budgetSeconds": budget_seconds} for vault in plan_sweep(ctx)]
    units.append({"repairBindings": True, "budgetSeconds": budget_seconds})
    units.append({"repairOrphans": True})
    if ctx.app_service is not None:
        units.append({"appService": True, "budgetSeconds": budget_seconds})
    return [_submit_unit(ctx, unit) for unit in units]


def _unit_target(parameters: dict) -> str:
    if parameters.get("vault"):
        return str(parameters["vault"])
    if parameters.get("appService"):
        return "appService"
    return "orphans" if parameters.get("repairOrphans") else "bindings"


def _submit_unit(ctx: AppContext, parameters: dict) -> Operation:
    return submit(ctx, new_operation(OperationKind.SWEEP, _unit_target(parameters), parameters, "sync_sweep"))


def _continue(ctx: AppContext, unit: Operation, parameters: dict) -> Operation:
    """The one continuation of `unit`: its id is derived from the unit's, so a redelivery of the
    unit finds it recorded (and queues it again only while it is still Queued)."""
    continuation = new_operation(OperationKind.SWEEP, _unit_target(parameters), parameters, "sync_sweep")
    continuation.id = derived_operation_id(unit.id, "continuation")
    return submit_once(ctx, continuation)


def run_sweep_unit(ctx: AppContext, op: Operation) -> dict:
    vault = op.parameters.get("vault")
    if op.parameters.get("appService"):
        return _run_app_service_unit(ctx, op)
    if op.parameters.get("repairOrphans"):
        links = ctx.links.list()
        return {"links": len(links), "orphansRemoved": repair_orphans(ctx, (link.name for link in links), utcnow())}
    budget = float(op.parameters.get("budgetSeconds", DEFAULT_BUDGET_SECONDS))
    if not vault:
        repair = run_binding_repair(ctx, budget, after=_link_key(op.parameters.get("after")))
        result = repair.as_result()
        if repair.unfinished and repair.last_done is not None:  # the checkpoint: after the last link done
            checkpoint = {"repairBindings": True, "budgetSeconds": budget, "after": list(repair.last_done)}
            result["continuation"] = _continue(ctx, op, checkpoint).id
        return result
    report = run_vault_sweep(ctx, vault, budget, after=str(op.parameters.get("after", "")))
    result = report.as_result()
    if report.unfinished_secrets:  # the checkpoint: go on at once, elsewhere, after the last secret done
        checkpoint = {"vault": vault, "budgetSeconds": budget, "after": max(report.synced_secrets)}
        result["continuation"] = _continue(ctx, op, checkpoint).id
    return result


def _run_app_service_unit(ctx: AppContext, op: Operation) -> dict:
    """The App Service pass within its budget, from where the last unit stopped; an ARM failure
    raises out (the queue delivers it again)."""
    budget = float(op.parameters.get("budgetSeconds", DEFAULT_BUDGET_SECONDS))
    after = appservice.Checkpoint(str(op.parameters.get("after", "")), str(op.parameters.get("afterResource", "")))
    swept = appservice.sweep(ctx, budget, after)
    result = {**swept.as_dict(), "unfinishedSecrets": swept.unfinished_secrets}
    if swept.unfinished_secrets and swept.checkpoint:  # the checkpoint: after the last resource done
        checkpoint = {
            "appService": True, "after": swept.checkpoint.secret, "afterResource": swept.checkpoint.resource,
            "budgetSeconds": budget,
        }  # fmt: skip
        result["continuation"] = _continue(ctx, op, checkpoint).id
    return result


def run_binding_repair(
    ctx: AppContext,
    budget_seconds: float,
    after: tuple[str, str] | None = None,
    page_links: int | None = None,
) -> RepairReport:
    """Lagging bindings, page by page of links in key order after `after`, each page's bindings
    read for its links only, so memory holds one page. Past the budget it stops after the last
    link done (at least one a unit, so a chain of continuations always gets further)."""
    started, page_links = time.monotonic(), page_links or REPAIR_PAGE_LINKS
    report = RepairReport(last_done=after)
    while True:
        page = ctx.links.following(report.last_done, page_links)
        if not page:
            break
        report.pages += 1
        bindings = ctx.bindings.for_links(link.name for link in page)
        for link in page:
            if report.links and time.monotonic() - started > budget_seconds:
                report.unfinished = True
                report.seconds = time.monotonic() - started
                return report
            _repair_link(ctx, link, bindings.get(link.name, []), report)
            report.links += 1
            report.last_done = (link.scope, link.name)
        if len(page) < page_links:
            break
    report.seconds = time.monotonic() - started
    return report


def _repair_link(ctx: AppContext, link: LinkedCertificate, bindings: list[SslBinding], report: RepairReport) -> None:
    """The link as read may be older than its bindings (a vault unit synced it between the two
    reads, so its `last_synced_at` was old too): a lagging one is read again before the sync."""
    if not _lagging(link, bindings):
        return
    try:
        fresh = ctx.links.reread(link)
    except CertsyncError:
        return  # deleted meanwhile (its bindings are the orphan unit's), or unreadable: the next sweep
    # a link synced moments ago is a vault unit's sync still moving its bindings: not lagging
    if _synced_recently(fresh, utcnow()) or not _lagging(fresh, bindings):
        report.moved_meanwhile += 1
        return
    try:
        report.bindings_repaired += sync_link(ctx, fresh, bindings=bindings).bindings_updated
    except CertsyncError:
        return  # recorded on the link by sync_link


def _lagging(link: LinkedCertificate, bindings: list[SslBinding]) -> bool:
    return bool(link.thumbprint) and any(b.thumbprint != link.thumbprint for b in bindings)


def _link_key(raw: object) -> tuple[str, str] | None:
    """A checkpoint's `after` (scope, name), as the unit recorded it."""
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(part, str) for part in raw):
        return raw[0], raw[1]
    return None


def run_vault_sweep(
    ctx: AppContext, vault_url: str, budget_seconds: float, now: datetime | None = None, after: str = ""
) -> SweepReport:
    """One vault's links (secrets in id order, those after `after` only); bindings are read per
    changed secret, never the whole table."""
    started = time.monotonic()
    links = [link for link in ctx.links.in_vault(vault_url) if link.secret_id > after]
    report = _sync_changed(ctx, links, None, started, budget_seconds, now or utcnow(), at_least=1)
    report.seconds = time.monotonic() - started
    telemetry.instruments().record_sweep(report.seconds, report.changed_secrets, "vault")
    return report


def _sync_changed(
    ctx: AppContext,
    links: list[LinkedCertificate],
    bindings: dict[str, list[SslBinding]] | None,
    started: float,
    budget_seconds: float,
    now: datetime,
    at_least: int = 0,
) -> SweepReport:
    """Sync the secrets whose links need it, within the budget; a unit syncs `at_least` one, so
    a chain of continuations always gets further."""
    interval = timedelta(hours=ctx.settings.sync_sweep_interval_hours)
    report = SweepReport()
    links = [link for link in links if not link.resource_id]  # App Service links: swept in ARM (below)
    report.links = len(links)
    groups = _group_by_secret(links)
    report.secrets = len(groups)
    changed: list[SecretGroup] = []
    for vault_url, vault_groups in _by_vault(groups).items():
        report.vaults += 1
        try:
            latest = {v.name: v for v in ctx.vault_for(vault_url).list_secrets()}
        except CertsyncError as err:
            _fail_all(ctx, [link for g in vault_groups for link in g.links], err, report)
            continue
        changed += [g for g in vault_groups if _needs_sync(g, latest.get(g.ref.name), now, interval)]
    changed.sort(key=lambda g: g.ref.id)
    report.changed_secrets = len(changed)
    report.changed_ids = {g.ref.id for g in changed}
    for index, group in enumerate(changed):
        if index >= at_least and time.monotonic() - started > budget_seconds:
            report.unfinished_secrets = len(changed) - index
            break
        try:
            outcome = sync_links_of_secret(ctx, group.links, bindings, record_check=True)
        except Exception as err:
            log.error("sweep: secret %s failed unexpectedly: %s", group.ref.id, type(err).__name__)
            report.failed_links.update({link.name: "InternalError" for link in group.links})
            continue
        report.synced_secrets.add(group.ref.id)
        report.links_changed += outcome.links_changed
        report.bindings_updated += outcome.bindings_updated
        report.failed_links.update(outcome.failures)
    return report


def _sweep_app_service(ctx: AppContext) -> dict:
    try:
        return appservice.sweep(ctx).as_dict()
    except CertsyncError as err:  # ARM unreachable or forbidden: the Table links are still swept
        log.warning("sweep: App Service discovery failed: %s %s", err.code, err.message)
        return {"error": err.code}


def _needs_sync(group: SecretGroup, latest: SecretVersion | None, now: datetime, interval: timedelta) -> bool:
    """Pure: does this secret's metadata differ from what its links hold, or is a full
    verification of one of its links due?"""
    if latest is None or not latest.enabled:
        return True  # deleted, or latest disabled: resolve fully (and record errors)
    return any(
        not same_instant(link.secret_updated_on, latest.updated_on)
        or seen_too_soon(link)
        or link.last_sync_error
        or full_check_due(link, now, interval)
        for link in group.links
    )


def seen_too_soon(link: LinkedCertificate) -> bool:
    """Key Vault's "updated" has whole-second resolution: a version written in the same second
    we last looked would not change it, so such a link is looked at once more."""
    if link.secret_updated_on is None or link.last_checked_at is None:
        return True
    return (link.last_checked_at - link.secret_updated_on).total_seconds() < 2


def full_check_due(link: LinkedCertificate, now: datetime, interval: timedelta) -> bool:
    """Each link's value is fetched and verified at least once per interval; a stable per-link
    fraction (75-100% of the interval) spreads those checks instead of one burst."""
    if link.last_checked_at is None:
        return True
    fraction = 0.75 + 0.25 * (zlib.crc32(link.name.encode()) % 1000) / 1000
    return now - link.last_checked_at >= interval * fraction


def _group_by_secret(links: list[LinkedCertificate]) -> list[SecretGroup]:
    grouped: dict[str, list[LinkedCertificate]] = defaultdict(list)
    refs: dict[str, SecretRef] = {}
    for link in links:
        try:
            ref = parse_secret_id(link.secret_id)
        except CertsyncError:
            continue
        refs[ref.id] = ref
        grouped[ref.id].append(link)
    return [SecretGroup(refs[key], members) for key, members in grouped.items()]


def _by_vault(groups: list[SecretGroup]) -> dict[str, list[SecretGroup]]:
    vaults: dict[str, list[SecretGroup]] = defaultdict(list)
    for group in groups:
        vaults[group.ref.vault_url].append(group)
    return vaults


def _synced_recently(link: LinkedCertificate, now: datetime) -> bool:
    return link.last_synced_at is not None and now - link.last_synced_at < SYNC_SETTLES_WITHIN


def _repair_lagging_bindings(
    ctx: AppContext, links: list[LinkedCertificate], bindings: dict[str, list[SslBinding]], synced: set[str]
) -> int:
    """Finish a sync that stopped between the link and its bindings. Found from Table data; the
    move goes through sync_link, so the certificate is verified for every bound hostname first."""
    repaired = 0
    for link in links:
        if link.secret_id in synced:
            continue
        if _lagging(link, bindings.get(link.name, [])):
            try:
                repaired += sync_link(ctx, link, bindings=bindings.get(link.name, [])).bindings_updated
            except CertsyncError:
                continue  # recorded on the link by sync_link
    return repaired


def _fail_all(ctx: AppContext, links: list[LinkedCertificate], err: CertsyncError, report: SweepReport) -> None:
    for link in links:
        record_sync_error(ctx, link, err)
        report.failed_links[link.name] = err.code
