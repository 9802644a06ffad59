"""Sync: bring a linked certificate to its secret's current version, then every SSL binding
that uses it to the link's thumbprint.

Convergent and idempotent: each step re-reads what it changes and writes with ETags, so a
manual sync, the sweep and an after-renewal sync of one link end in the same state, and a
failure midway is finished by the next run. An in-sync link with in-sync bindings writes nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from shared import pki
from shared.app_context import AppContext
from shared.clock import utcnow
from shared.errors import CertsyncError, Conflict, PreconditionFailed
from shared.model import Certificate, LinkedCertificate, Operation, OperationKind, SslBinding
from shared.operations import handles, new_operation, submit
from shared.secret_refs import CurrentCertificate, current_certificate, parse_secret_id
from shared.tables import retry_on_conflict

log = logging.getLogger("certsync.sync")
MAX_SYNC_TRIES = 5


@dataclass(frozen=True)
class LinkSyncResult:
    link: str
    changed: bool
    thumbprint: str
    previous_thumbprint: str
    bindings_updated: int


def fetch_current(ctx: AppContext, link: LinkedCertificate) -> CurrentCertificate:
    ref = parse_secret_id(link.secret_id)
    return current_certificate(ctx.vault_for(ref.vault_url), ref.name)


def sync_link(
    ctx: AppContext,
    link: LinkedCertificate | str,
    current: CurrentCertificate | None = None,
    bindings: list[SslBinding] | None = None,
    record_check: bool = False,
) -> LinkSyncResult:
    """Sync one link; on a failed check record lastSyncError on the link and change nothing else.

    A caller that already read the link, its current certificate or its bindings (the sweep)
    passes them in. The link write carries the ETag of the read the check was made on; a
    binding created meanwhile changes that ETag (put_binding touches the link), so a lost race
    re-reads the link and its bindings and checks again. A version read before the link was
    (re)read may be older than what the link holds: then the secret is read again rather than
    moving the link backwards.
    """
    link = ctx.links.get(link) if isinstance(link, str) else link
    previous = link.thumbprint
    read_after_link = False  # was `current` fetched after `link` was read?
    for _ in range(MAX_SYNC_TRIES):
        bindings = ctx.bindings.for_link(link.name) if bindings is None else bindings
        try:
            if current is None:
                current, read_after_link = fetch_current(ctx, link), True
            pki.check_usable(current.bundle, [b.hostname for b in bindings], utcnow())
        except CertsyncError as err:
            record_sync_error(ctx, link, err)
            raise
        if not read_after_link and holds_newer(link, current):
            current = None  # a concurrent sync moved the link past what we read: read the secret again
            continue
        try:
            moved = ctx.links.save(link) if apply_current(link, current, record_check, utcnow()) else link
            break
        except PreconditionFailed:
            link, bindings, read_after_link = ctx.links.reread(link), None, False
    else:
        raise PreconditionFailed(f"linked certificate {link.name} kept changing while it was synced; retry")
    updated = move_bindings(ctx, moved, bindings)
    return LinkSyncResult(moved.name, previous != moved.thumbprint, moved.thumbprint, previous, updated)


def holds_newer(link: LinkedCertificate, current: CurrentCertificate) -> bool:
    """Pure: does the link already hold a version newer than the one we read?"""
    return link.version != current.version.version and _newer(link.secret_updated_on, current.version.updated_on)


def _with_fresh_link(ctx: AppContext, link: LinkedCertificate, change):
    """Apply `change` to the link we hold; after a lost ETag race, to a fresh point read."""
    attempt = [link]

    def run():
        fresh = attempt[0] or ctx.links.reread(link)
        attempt[0] = None
        return change(fresh)

    return retry_on_conflict(run)


def apply_current(link: LinkedCertificate, current: CurrentCertificate, record_check: bool, now) -> bool:
    """Bring the link (in memory) to the current version; False when there is nothing to write."""
    seen = current.version.updated_on
    unchanged = link.thumbprint == current.thumbprint and link.version == current.version.version
    if unchanged and same_instant(link.secret_updated_on, seen) and not link.last_sync_error:
        if record_check:  # the sweep's periodic full verification passed
            link.last_checked_at = now
        return record_check
    link.secret_updated_on, link.last_sync_error, link.last_checked_at = seen, "", now
    if not unchanged:
        link.thumbprint, link.version = current.thumbprint, current.version.version
        link.not_after, link.hostnames = current.bundle.not_after, pki.dns_names(current.bundle.certificate)
        link.last_synced_at = now
    return True


def _newer(a, b) -> bool:
    return a is not None and b is not None and int(a.timestamp()) > int(b.timestamp())


def same_instant(a, b) -> bool:
    """Key Vault reports whole seconds; Table Storage keeps milliseconds."""
    if a is None or b is None:
        return a is b
    return int(a.timestamp()) == int(b.timestamp())


def move_bindings(ctx: AppContext, link: LinkedCertificate, bindings: list[SslBinding]) -> int:
    """Point every binding of the link at the link's thumbprint. On an ETag conflict both the
    binding and the link are re-read and the binding takes the link's thumbprint as it is now,
    so the last writer always writes what the link holds."""
    moved = 0
    for binding in bindings:
        if binding.link != link.name or binding.thumbprint == link.thumbprint:
            continue
        first = [True]

        def move(binding: SslBinding = binding) -> bool:
            if first[0]:
                first[0], fresh, holder = False, binding, link
            else:
                fresh, holder = ctx.bindings.find(binding.app, binding.hostname), ctx.links.reread(link)
            if fresh is None or fresh.link != link.name or fresh.thumbprint == holder.thumbprint:
                return False
            fresh.thumbprint, fresh.updated_at = holder.thumbprint, utcnow()
            ctx.bindings.save(fresh)
            return True

        moved += bool(retry_on_conflict(move))
    return moved


def record_sync_error(ctx: AppContext, link: LinkedCertificate, err: CertsyncError) -> None:
    message = f"{err.code}: {err.message}"[:1000]

    def apply(fresh: LinkedCertificate) -> None:
        if fresh.last_sync_error == message:
            return  # already recorded: a failing secret costs no write per sweep
        fresh.last_sync_error, fresh.last_checked_at = message, utcnow()
        ctx.links.save(fresh)

    try:
        _with_fresh_link(ctx, link, apply)
    except CertsyncError as failure:  # best effort: the sync's own error is what the caller reports
        log.warning("could not record the sync error of %s: %s", link.name, failure.code)


def sync_links_of_secret(
    ctx: AppContext,
    links: list[LinkedCertificate],
    bindings: dict[str, list[SslBinding]] | None = None,
    record_check: bool = False,
) -> dict:
    """Sync links sharing one secret with a single Key Vault read and batched Table writes;
    one failure does not stop the rest."""
    if not links:
        return {"linksSynced": 0, "linksChanged": 0, "bindingsUpdated": 0, "failures": {}}
    if bindings is None:
        bindings = ctx.bindings.for_links(link.name for link in links)
    try:
        current = fetch_current(ctx, links[0])
    except CertsyncError as err:
        for link in links:
            record_sync_error(ctx, link, err)
        return {"linksSynced": 0, "linksChanged": 0, "bindingsUpdated": 0, "failures": {l.name: err.code for l in links}}
    from shared.sync_batch import sync_together

    return sync_together(ctx, links, current, bindings, record_check)


def links_of_certificate(ctx: AppContext, cert: Certificate) -> list[LinkedCertificate]:
    return ctx.links.for_secret(certificate_secret(ctx, cert).id)


def certificate_secret(ctx: AppContext, cert: Certificate):
    """The normalised reference of a certificate's own secret (what its links store)."""
    return parse_secret_id(f"{ctx.vault.url.rstrip('/')}/secrets/{cert.secret_name}")


def start_link_sync(ctx: AppContext, name: str, requested_by: str = "") -> Operation:
    ctx.links.get(name)
    return submit(ctx, new_operation(OperationKind.SYNC_LINK, name, {}, requested_by))


def start_certificate_sync(ctx: AppContext, name: str, requested_by: str = "") -> Operation:
    ctx.certificates.get(name)
    return submit(ctx, new_operation(OperationKind.SYNC_CERTIFICATE, name, {}, requested_by))


@handles(OperationKind.SYNC_LINK)
def run_link_sync(ctx: AppContext, op: Operation) -> dict:
    result = sync_link(ctx, op.target)
    return {
        "changed": result.changed,
        "thumbprint": result.thumbprint,
        "previousThumbprint": result.previous_thumbprint,
        "bindingsUpdated": result.bindings_updated,
    }


@handles(OperationKind.SYNC_CERTIFICATE)
def run_certificate_sync(ctx: AppContext, op: Operation) -> dict:
    cert = ctx.certificates.get(op.target)
    outcome = sync_links_of_secret(ctx, links_of_certificate(ctx, cert))
    if outcome["failures"]:
        failed = ", ".join(f"{k} ({v})" for k, v in sorted(outcome["failures"].items()))
        raise Conflict(f"{len(outcome['failures'])} link(s) could not be synced: {failed}"[:1000], code="SyncIncomplete")
    return outcome


def after_new_version(ctx: AppContext, cert: Certificate) -> dict:
    """Seconds after a renewal: queue a sync of every link of the secret (unless turned off)."""
    if not ctx.settings.auto_sync_after_renewal:
        return {}
    if not links_of_certificate(ctx, cert):
        return {}
    op = submit(ctx, new_operation(OperationKind.SYNC_CERTIFICATE, cert.name, {"trigger": "renewal"}, "certsync"))
    return {"syncOperation": op.id}
