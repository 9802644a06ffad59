"""The background sync sweep: find links whose secret changed outside certsync and sync them.

Change is detected from secret *metadata* (one paged list per vault, 25 per page); a secret's
value is fetched only when its latest version differs from what its links hold, once per
secret however many links share it. Unchanged links cause no Table writes. A run that is cut
short (time budget, Functions timeout) leaves the remaining secrets still "changed", so the
next run finishes them: the state itself is the checkpoint.
"""
from __future__ import annotations

import logging
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.app_context import AppContext
from shared.clock import utcnow
from shared.errors import CertsyncError
from shared.model import LinkedCertificate, SslBinding
from shared.secret_refs import SecretRef, parse_secret_id
from shared.sync.executor import record_sync_error, sync_link, sync_links_of_secret
from shared.sync.orphans import repair_orphans
from shared.sync.planner import same_instant
from shared.vault import SecretVersion

log = logging.getLogger("certsync.sweep")
DEFAULT_BUDGET_SECONDS = 480.0  # inside the 10-minute Consumption limit, with room to record


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


@dataclass(frozen=True)
class SecretGroup:
    ref: SecretRef
    links: list[LinkedCertificate]


def run_sweep(ctx: AppContext, budget_seconds: float = DEFAULT_BUDGET_SECONDS, now: datetime | None = None) -> SweepReport:
    started = time.monotonic()
    now = now or utcnow()
    interval = timedelta(hours=ctx.settings.sync_sweep_interval_hours)
    report = SweepReport()
    links = ctx.links.list()
    report.links = len(links)
    groups = _group_by_secret(links)
    report.secrets = len(groups)
    bindings = ctx.bindings.for_links(l.name for l in links)
    changed: list[SecretGroup] = []
    for vault_url, vault_groups in _by_vault(groups).items():
        report.vaults += 1
        try:
            latest = {v.name: v for v in ctx.vault_for(vault_url).list_secrets()}
        except CertsyncError as err:
            _fail_all(ctx, [l for g in vault_groups for l in g.links], err, report)
            continue
        changed += [g for g in vault_groups if _needs_sync(g, latest.get(g.ref.name), now, interval)]
    report.changed_secrets = len(changed)
    for index, group in enumerate(changed):
        if time.monotonic() - started > budget_seconds:
            report.unfinished_secrets = len(changed) - index
            break
        try:
            outcome = sync_links_of_secret(ctx, group.links, bindings, record_check=True)
        except Exception as err:
            log.error("sweep: secret %s failed unexpectedly: %s", group.ref.id, type(err).__name__)
            report.failed_links.update({link.name: "InternalError" for link in group.links})
            continue
        report.links_changed += outcome.links_changed
        report.bindings_updated += outcome.bindings_updated
        report.failed_links.update(outcome.failures)
    report.bindings_repaired = _repair_lagging_bindings(ctx, links, bindings, {g.ref.id for g in changed})
    report.orphans_removed = repair_orphans(ctx, (link.name for link in links), now)
    report.seconds = time.monotonic() - started
    return report


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


def _repair_lagging_bindings(
    ctx: AppContext, links: list[LinkedCertificate], bindings: dict[str, list[SslBinding]], synced: set[str]
) -> int:
    """Finish a sync that stopped between the link and its bindings. Found from Table data; the
    move goes through sync_link, so the certificate is verified for every bound hostname first."""
    repaired = 0
    for link in links:
        if link.secret_id in synced or not link.thumbprint:
            continue
        if any(b.thumbprint != link.thumbprint for b in bindings.get(link.name, [])):
            try:
                repaired += sync_link(ctx, link, bindings=bindings.get(link.name, [])).bindings_updated
            except CertsyncError:
                continue  # recorded on the link by sync_link
    return repaired


def _fail_all(ctx: AppContext, links: list[LinkedCertificate], err: CertsyncError, report: SweepReport) -> None:
    for link in links:
        record_sync_error(ctx, link, err)
        report.failed_links[link.name] = err.code
