"""Sync writes: carry out the planner's plans with ETags, one link at a time or batched.

Convergent and idempotent: each step re-reads what it changes after a lost race, so a manual
sync, the sweep and an after-renewal sync of one link end in the same state, and a failure
midway is finished by the next run. An in-sync link with in-sync bindings writes nothing.

Batched (the links of one secret together: sweep, one-click sync, sync after renewal): links
and bindings are written in entity-group transactions per partition (at most 100 rows each,
every row ETag-checked). A transaction that loses a race writes nothing, and its rows fall back
to `sync_link` one by one, which re-reads and retries.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from shared.app_context import AppContext
from shared.appservice import sync as appservice
from shared.clock import utcnow
from shared.errors import CertsyncError, NotFound, PreconditionFailed
from shared.model import Certificate, LinkedCertificate, SslBinding
from shared.observations import read_version
from shared.secret_refs import CurrentCertificate, SecretRef, latest_enabled, parse_secret_id
from shared.sync.planner import Reason, SyncPlan, plan_sync, same_instant
from shared.tables import retry_on_conflict
from shared.vault import SecretVersion

log = logging.getLogger("certsync.sync")
MAX_SYNC_TRIES = 5


@dataclass(frozen=True)
class LinkSyncResult:
    link: str
    changed: bool
    thumbprint: str
    previous_thumbprint: str
    bindings_updated: int


@dataclass
class SecretSyncResult:
    links_synced: int = 0
    links_changed: int = 0
    bindings_updated: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    links_deleted: list[str] = field(default_factory=list)  # deleted while the sync ran: nothing to sync

    def as_dict(self) -> dict:
        return {
            "linksSynced": self.links_synced,
            "linksChanged": self.links_changed,
            "bindingsUpdated": self.bindings_updated,
            "failures": self.failures,
            "linksDeleted": self.links_deleted,
        }


def fetch_current(ctx: AppContext, link: LinkedCertificate) -> CurrentCertificate:
    """The secret's current certificate, with its revocation if the certificate whose secret it is
    records one; what was read is recorded on that certificate (observations.py), unless the
    link's own row already says as much."""
    ref = parse_secret_id(link.secret_id)
    vault = ctx.vault_for(ref.vault_url)
    version, fell_back = latest_enabled(vault, ref.name)
    owner = None if _link_knows(link, version) else _owner(ctx, link, ref)
    reading = read_version(ctx, version, fell_back, owner)
    if reading.current is None:
        raise reading.error or NotFound(f"secret {ref.name} has no usable version", code="SecretDisabled")
    return _with_revocation(reading.current, owner) if owner is not None else reading.current


def revocation_checked(ctx: AppContext, link: LinkedCertificate, current: CurrentCertificate) -> CurrentCertificate:
    """`current` with what its owning certificate records about its revocation (one point read),
    for a plan that writes: a revoked certificate is never bound. A sync that writes nothing, or
    whose read already consulted the owner, reads nothing more."""
    if current.revocation_checked:
        return current
    owner = _owner(ctx, link, parse_secret_id(link.secret_id))
    return _with_revocation(current, owner)


def _with_revocation(current: CurrentCertificate, owner: Certificate | None) -> CurrentCertificate:
    revoked = owner.revocation_of(current.thumbprint) if owner is not None else None
    return replace(current, revoked=revoked, revocation_checked=True)


def _writes(plan: SyncPlan) -> bool:
    return bool(plan.bindings) or (plan.link is not None and plan.reason is Reason.NEW_VERSION)


def _link_knows(link: LinkedCertificate, version: SecretVersion) -> bool:
    return link.version == version.version and same_instant(link.secret_updated_on, version.updated_on)


def _owner(ctx: AppContext, link: LinkedCertificate, ref: SecretRef) -> Certificate | None:
    """The certsync certificate whose secret the link imports (one point read), if any."""
    if not link.certificate:
        return None
    try:
        cert = ctx.certificates.find(link.certificate)
    except CertsyncError as err:
        log.warning("could not read certificate %s to record a version read: %s", link.certificate, err.code)
        return None
    if cert is None or not cert.secret_name or ctx.secret_of(cert).id != ref.id:
        return None
    return cert


def sync_link(
    ctx: AppContext,
    link: LinkedCertificate | str,
    current: CurrentCertificate | None = None,
    bindings: list[SslBinding] | None = None,
    record_check: bool = False,
) -> LinkSyncResult:
    """Sync one link; on a failed check record lastSyncError on the link and change nothing else.

    A caller that already read the link, its current certificate or its bindings (the sweep)
    passes them in. The link write carries the ETag of the read the plan was made on; a binding
    created meanwhile changes that ETag (put_binding touches the link), so a lost race re-reads
    the link and its bindings and plans again.
    """
    link = ctx.links.get(link) if isinstance(link, str) else link
    previous = link.thumbprint
    if link.resource_id:
        return _sync_in_arm(ctx, link)
    read_after_link = False  # was `current` fetched after `link` was read?
    for _ in range(MAX_SYNC_TRIES):
        bindings = ctx.bindings.for_link(link.name) if bindings is None else bindings
        if current is None:
            try:
                current, read_after_link = fetch_current(ctx, link), True
            except CertsyncError as err:
                record_sync_error(ctx, link, err)
                raise
        now = utcnow()
        plan = plan_sync(link, bindings, current, now, record_check=record_check, read_after_link=read_after_link)
        if _writes(plan) and not current.revocation_checked:
            current = revocation_checked(ctx, link, current)
            plan = plan_sync(link, bindings, current, now, record_check=record_check, read_after_link=read_after_link)
        if plan.error is not None:
            record_sync_error(ctx, link, plan.error)
            raise plan.error
        if plan.reason is Reason.STALE_READ:
            current = None  # a concurrent sync moved the link past what we read: read the secret again
            continue
        try:
            moved = ctx.links.save(plan.link) if plan.link else link
            break
        except PreconditionFailed:
            link, bindings, read_after_link = ctx.links.reread(link), None, False
    else:
        raise PreconditionFailed(f"linked certificate {link.name} kept changing while it was synced; retry")
    updated = move_bindings(ctx, moved, list(plan.bindings))
    return LinkSyncResult(moved.name, previous != moved.thumbprint, moved.thumbprint, previous, updated)


def _sync_in_arm(ctx: AppContext, link: LinkedCertificate) -> LinkSyncResult:
    """A link that indexes an App Service certificate resource is synced in ARM, never in rows alone."""
    changed, moved = appservice.sync_indexed_link(ctx, link)
    after = ctx.links.get(link.name)
    return LinkSyncResult(link.name, changed, after.thumbprint, link.thumbprint, moved)


def move_bindings(ctx: AppContext, link: LinkedCertificate, planned: list[SslBinding]) -> int:
    """Write planned binding moves. On an ETag conflict both the binding and the link are
    re-read and the binding takes the link's thumbprint as it is now, so the last writer always
    writes what the link holds."""
    return sum(bool(retry_on_conflict(_mover(ctx, link, binding))) for binding in planned)


def _mover(ctx: AppContext, link: LinkedCertificate, planned: SslBinding):
    first = [True]

    def move() -> bool:
        if first[0]:
            first[0] = False
            ctx.bindings.save(planned)
            return True
        fresh, holder = ctx.bindings.find(planned.app, planned.hostname), ctx.links.reread(link)
        if fresh is None or fresh.link != link.name or fresh.thumbprint == holder.thumbprint:
            return False
        fresh.thumbprint, fresh.updated_at = holder.thumbprint, utcnow()
        ctx.bindings.save(fresh)
        return True

    return move


def record_sync_error(ctx: AppContext, link: LinkedCertificate, err: CertsyncError) -> None:
    """Best effort: the sync's own error is what the caller reports."""
    message = f"{err.code}: {err.message}"[:1000]
    held = [link]

    def apply() -> None:
        fresh = held.pop() if held else ctx.links.reread(link)
        if fresh.last_sync_error == message:
            return  # already recorded: a failing secret costs no write per sweep
        fresh.last_sync_error, fresh.last_checked_at = message, utcnow()
        ctx.links.save(fresh)

    try:
        retry_on_conflict(apply)
    except CertsyncError as failure:
        log.warning("could not record the sync error of %s: %s", link.name, failure.code)


def sync_links_of_secret(
    ctx: AppContext,
    links: list[LinkedCertificate],
    bindings: dict[str, list[SslBinding]] | None = None,
    record_check: bool = False,
) -> SecretSyncResult:
    """Sync links sharing one secret with a single Key Vault read and batched Table writes;
    one failure does not stop the rest."""
    in_arm = [link for link in links if link.resource_id]
    links = [link for link in links if not link.resource_id]
    result = _sync_each_in_arm(ctx, in_arm)
    if not links:
        return result
    if bindings is None:
        bindings = ctx.bindings.for_links(link.name for link in links)
    try:
        current = fetch_current(ctx, links[0])
    except CertsyncError as err:
        for link in links:
            record_sync_error(ctx, link, err)
        result.failures.update({link.name: err.code for link in links})
        return result
    return _merged(result, _sync_together(ctx, links, current, bindings, record_check))


def _sync_each_in_arm(ctx: AppContext, links: list[LinkedCertificate]) -> SecretSyncResult:
    result = SecretSyncResult()
    for link in links:
        try:
            done = _sync_in_arm(ctx, link)
        except CertsyncError as err:
            result.failures[link.name] = err.code
            continue
        result.links_synced += 1
        result.links_changed += done.changed
        result.bindings_updated += done.bindings_updated
    return result


def _merged(a: SecretSyncResult, b: SecretSyncResult) -> SecretSyncResult:
    return SecretSyncResult(
        a.links_synced + b.links_synced,
        a.links_changed + b.links_changed,
        a.bindings_updated + b.bindings_updated,
        {**a.failures, **b.failures},
        a.links_deleted + b.links_deleted,
    )


def _sync_together(
    ctx: AppContext,
    links: list[LinkedCertificate],
    current: CurrentCertificate,
    bindings: dict[str, list[SslBinding]],
    record_check: bool,
) -> SecretSyncResult:
    now = utcnow()
    result = SecretSyncResult()
    plans: dict[str, tuple[LinkedCertificate, SyncPlan]] = {}
    one_by_one: list[tuple[LinkedCertificate, CurrentCertificate | None]] = []
    for link in links:
        bound = bindings.get(link.name, [])
        plan = plan_sync(link, bound, current, now, record_check=record_check, read_after_link=False)
        if _writes(plan) and not current.revocation_checked:
            current = revocation_checked(ctx, link, current)  # once for the secret: the links share it
            plan = plan_sync(link, bound, current, now, record_check=record_check, read_after_link=False)
        if plan.error is not None:
            record_sync_error(ctx, link, plan.error)
            result.failures[link.name] = plan.error.code
        elif plan.reason is Reason.STALE_READ:
            one_by_one.append((link, None))  # sync_link reads the secret again, never moving a link backwards
        else:
            plans[link.name] = (link, plan)
    lost = {written.name for written in ctx.links.save_batch([p.link for _, p in plans.values() if p.link])}
    settled = {name: (link, plan) for name, (link, plan) in plans.items() if name not in lost}
    one_by_one += [(plans[name][0], current) for name in lost]
    result.bindings_updated = _move_bindings_batched(ctx, settled)
    for link, plan in settled.values():
        result.links_synced += 1
        result.links_changed += bool(plan.link and plan.link.thumbprint != link.thumbprint)
    for link, known in one_by_one:
        try:
            done = sync_link(ctx, link.name, known, bindings.get(link.name, []), record_check)
        except CertsyncError as err:
            if isinstance(err, NotFound) and err.code == "LinkNotFound":
                result.links_deleted.append(link.name)  # a link that no longer exists is not a failed sync
            else:
                result.failures[link.name] = err.code
            continue
        result.links_synced += 1
        result.links_changed += done.thumbprint != link.thumbprint
        result.bindings_updated += done.bindings_updated
    return result


def _move_bindings_batched(ctx: AppContext, settled: dict[str, tuple[LinkedCertificate, SyncPlan]]) -> int:
    """Plans hold copies, so a lost transaction leaves the rows as read, and move_bindings
    (re-read on conflict) sees them still lagging."""
    planned = [b for _, plan in settled.values() for b in plan.bindings]
    lost = ctx.bindings.save_batch(planned)
    retried = 0
    for binding in lost:
        link, plan = settled[binding.link]
        retried += move_bindings(ctx, plan.link or link, [binding])
    return len(planned) - len(lost) + retried
