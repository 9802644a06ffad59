"""Sync in Azure Resource Manager: import each certificate resource of a secret again, check what
App Service read, move the hostname bindings still on the old thumbprint, then index it all.

ARM is the truth for links and bindings; the link and binding rows certsync keeps are an index
of what ARM holds plus sync history (last sync, last error), written after ARM answered. Safety
comes first: a version that is expired, does not match its key or does not cover a hostname
bound to the resource is never imported (App Service moves the webspace's bindings with a
re-import), and the failure is recorded on the link. A certificate resource that fails (403,
429 after retries, 5xx, keyVaultSecretStatus) does not stop the others; its link keeps the
error and the next sync or sweep tries again, since nothing half-done is ever recorded as done.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from shared import pki
from shared.app_context import AppContext
from shared.appservice.resources import SUCCEEDED, ArmBinding, ArmCertificate, link_name, parse_resource_id
from shared.appservice.stale import (
    GONE_CODES,
    IndexSnapshot,
    drop_bindings_gone,
    drop_link,
    drop_links_gone,
    read_index,
)
from shared.clock import utcnow
from shared.errors import BadRequest, CertsyncError, Conflict, NotFound
from shared.model import Certificate, LinkedCertificate, SslBinding, SslState
from shared.observations import read_current
from shared.ports import AppService
from shared.revocation import check_not_revoked
from shared.secret_refs import (
    CurrentCertificate,
    SecretRef,
    parse_secret_id,
)
from shared.tables import retry_on_conflict

log = logging.getLogger("certsync.appservice")
APP_SERVICE_PRINCIPAL = "Microsoft Azure App Service (abfa0a7c-a6b6-4736-8310-5855508787cd)"


@dataclass
class ArmSyncResult:
    certificates_synced: int = 0
    certificates_changed: int = 0
    bindings_moved: int = 0
    links_removed: int = 0  # index rows of certificate resources ARM no longer holds
    bindings_removed: int = 0  # index rows of bindings ARM no longer holds
    failures: dict[str, str] = field(default_factory=dict)  # link name -> error code
    checkpoint: Checkpoint | None = None  # a sweep unit's last resource done (sweep)
    unfinished_secrets: int = 0  # secrets not (or not fully) swept: the unit's budget was spent

    def add(self, changed: bool, moved: int, removed: int) -> None:
        self.certificates_synced += 1
        self.certificates_changed += changed
        self.bindings_moved += moved
        self.bindings_removed += removed

    def as_dict(self) -> dict:
        return {
            "appServiceCertificatesSynced": self.certificates_synced,
            "appServiceCertificatesChanged": self.certificates_changed,
            "appServiceBindingsMoved": self.bindings_moved,
            "appServiceLinksRemoved": self.links_removed,
            "appServiceBindingsRemoved": self.bindings_removed,
            "appServiceFailures": self.failures,
        }


def arm(ctx: AppContext) -> AppService:
    if ctx.app_service is None:
        raise BadRequest("set APP_SERVICE_SUBSCRIPTIONS to manage App Service", code="AppServiceNotConfigured")
    return ctx.app_service


def vault_id_of(ctx: AppContext, vault_url: str) -> str:
    """One of certsync's vaults as ARM names it (KEY_VAULT_RESOURCE_ID, KEY_VAULT_RESOURCE_IDS)."""
    known = ctx.settings.vault_named(vault_url)
    if known is None or not known.resource_id:
        raise BadRequest(
            f"set the ARM resource id of vault {vault_url} (KEY_VAULT_RESOURCE_ID or KEY_VAULT_RESOURCE_IDS)",
            code="VaultResourceIdMissing",
        )
    return known.resource_id


def vault_url_for_id(ctx: AppContext, vault_id: str) -> str | None:
    """The URL of the configured vault ARM names `vault_id` (None: not one of certsync's vaults)."""
    wanted = vault_id.rstrip("/").lower()
    return next((v.url for v in ctx.settings.vaults if v.resource_id.rstrip("/").lower() == wanted), None)


def managed_certificates(ctx: AppContext) -> list[ArmCertificate]:
    """Every Key Vault-imported certificate resource in the managed scopes: one list per subscription."""
    scopes = ctx.settings.app_service_scopes
    found: list[ArmCertificate] = []
    for subscription in dict.fromkeys(s.subscription for s in scopes):
        for cert in arm(ctx).list_certificates(subscription):
            if cert.key_vault_id and any(s.covers(cert.subscription, cert.resource_group) for s in scopes):
                found.append(cert)
    return found


def managed_subscriptions(ctx: AppContext) -> set[str]:
    return {s.subscription.lower() for s in ctx.settings.app_service_scopes}


def certificates_of_secret(ctx: AppContext, vault_url: str, secret_name: str) -> list[ArmCertificate]:
    """Including resources a user created in the portal since the last sweep."""
    vault_id = vault_id_of(ctx, vault_url)
    return [c for c in managed_certificates(ctx) if c.references(vault_id, secret_name)]


def sync_secret(ctx: AppContext, secret: SecretRef, certificate: str = "") -> ArmSyncResult:
    """Sync every certificate resource that references one of certsync's secrets (in any of its
    vaults), and drop the index rows of the secret's resources (and bindings) that ARM no longer holds."""
    result = ArmSyncResult()
    vault_id = vault_id_of(ctx, secret.vault_url)
    snapshot = read_index(ctx, ctx.links.for_secret(secret.id))  # before ARM is listed (stale.py)
    listed = managed_certificates(ctx)
    present = {c.id.lower() for c in listed}
    result.links_removed = drop_links_gone(ctx, snapshot, present, managed_subscriptions(ctx))
    certs = [c for c in listed if c.references(vault_id, secret.name)]
    if not certs:
        return result
    current = read_secret(ctx, secret, ctx.certificates.find(certificate) if certificate else None)
    groups = GroupBindings(arm(ctx))
    for cert in certs:
        try:
            changed, moved, removed = sync_certificate(ctx, cert, current, certificate, groups, snapshot)
        except CertsyncError as err:
            result.failures[link_name(cert)] = err.code
            continue
        result.add(changed, moved, removed)
    return result


def read_secret(ctx: AppContext, secret: SecretRef, owner: Certificate | None) -> CurrentCertificate:
    """The secret's current version, recorded on the certificate whose secret it is like every
    Key Vault read (observations.py: never backwards, never failing the read)."""
    if owner is not None and ctx.secret_of(owner).id != secret.id:
        owner = None  # a resource importing another secret than the certificate's own
    reading = read_current(ctx, ctx.vault_for(secret.vault_url), secret.name, owner)
    if reading.current is None:
        raise reading.error or NotFound(f"secret {secret.name} has no usable version", code="SecretDisabled")
    return reading.current


class GroupBindings:
    """SSL bindings per resource group, listed once per sync or sweep however many certificate
    resources the group holds (each binding is read again before it is moved)."""

    def __init__(self, service: AppService) -> None:
        self.service = service
        self._listed: dict[tuple[str, str], list[ArmBinding]] = {}

    def of(self, cert: ArmCertificate) -> list[ArmBinding]:
        key = (cert.subscription, cert.resource_group.lower())
        if key not in self._listed:
            self._listed[key] = self.service.list_bindings(cert.subscription, cert.resource_group)
        return self._listed[key]


def sync_certificate(
    ctx: AppContext,
    cert: ArmCertificate,
    current: CurrentCertificate,
    certificate: str = "",
    groups: GroupBindings | None = None,
    snapshot: IndexSnapshot | None = None,
) -> tuple[bool, int, int]:
    """Returns (thumbprint changed, bindings moved, stale binding rows removed); on failure
    records the error on the link. `snapshot`: the index as read before ARM was listed, whose
    binding rows of this resource that ARM no longer holds are dropped after a successful sync."""
    seen = [cert]  # ARM's latest answer, so the error is recorded with its keyVaultSecretStatus
    groups = groups or GroupBindings(arm(ctx))
    try:
        changed, moved, ours = _sync_certificate(ctx, cert, current, certificate, seen, groups)
    except CertsyncError as err:
        record_error(ctx, seen[-1], current, certificate, err)
        raise
    rows = snapshot.rows_of(link_name(cert)) if snapshot else []
    return changed, moved, drop_bindings_gone(ctx, rows, ours)


def _sync_certificate(
    ctx: AppContext,
    cert: ArmCertificate,
    current: CurrentCertificate,
    certificate: str,
    seen: list[ArmCertificate],
    groups: GroupBindings,
) -> tuple[bool, int, list[ArmBinding]]:
    service, name = arm(ctx), link_name(cert)
    indexed = ctx.links.find(name)
    old = {cert.thumbprint, indexed.thumbprint if indexed else ""} - {"", current.thumbprint}
    listed = groups.of(cert)
    bound = [b for b in listed if b.thumbprint in old]
    pki.check_usable(current.bundle, [b.hostname for b in bound], utcnow())
    check_not_revoked(ctx.certificates.find(certificate) if certificate else None, current.thumbprint)
    imported = cert
    if cert.thumbprint != current.thumbprint or cert.secret_status != SUCCEEDED:
        imported = service.put_certificate(cert)
        seen.append(imported)
    if imported.thumbprint != current.thumbprint:
        raise not_imported(imported, current)
    moved = _move_all(service, cert, bound, imported.thumbprint) if bound else []
    moved_keys = {(b.app, b.hostname) for b, _ in moved}
    already = [
        (b, False) for b in listed if b.thumbprint == imported.thumbprint and (b.app, b.hostname) not in moved_keys
    ]
    index(ctx, imported, current, certificate, moved + already, last_error="")
    ours = [b for b, _ in moved + already]
    return imported.thumbprint != cert.thumbprint, sum(1 for m in moved if m[1]), ours


def _move_all(
    service: AppService, cert: ArmCertificate, bound: list[ArmBinding], thumbprint: str
) -> list[tuple[ArmBinding, bool]]:
    """Read the group's bindings again (App Service moves the webspace's bindings with a
    re-import), then PUT and read back each one still on an old thumbprint."""
    wanted = {(b.app, b.hostname) for b in bound}
    now = {(b.app, b.hostname): b for b in service.list_bindings(cert.subscription, cert.resource_group)}
    done: list[tuple[ArmBinding, bool]] = []
    for key in sorted(wanted):
        seen = now.get(key)
        if seen is None:
            continue  # SSL turned off or the hostname removed meanwhile: nothing of ours to move
        done.append((seen, False) if seen.thumbprint == thumbprint else _move(service, seen, thumbprint))
    return done


def _move(service: AppService, seen: ArmBinding, thumbprint: str) -> tuple[ArmBinding, bool]:
    """PUT a binding still on an old thumbprint to the new one and read it back."""
    service.put_binding(replace(seen, thumbprint=thumbprint, ssl_state=seen.ssl_state or SslState.SNI.value))
    back = service.get_binding(seen)
    if back.thumbprint != thumbprint:
        raise Conflict(
            f"the binding of {seen.hostname} on {seen.app} did not take the new certificate", code="ArmConflict"
        )
    return back, True


def not_imported(imported: ArmCertificate, current: CurrentCertificate) -> CertsyncError:
    status = imported.secret_status or "UnknownError"
    hint = ""
    if status == "AzureServiceUnauthorizedToAccessKeyVault":
        hint = (
            f"; give {APP_SERVICE_PRINCIPAL} the Key Vault Certificate User role on the vault "
            "(or, with access policies, Get on secrets and certificates)"
        )
    return Conflict(
        f"App Service holds thumbprint {imported.thumbprint or 'none'} for {imported.id}, not the current version's "
        f"{current.thumbprint}: keyVaultSecretStatus {status}{hint}",
        code=status if status != SUCCEEDED else "ThumbprintMismatch",
    )


def index(
    ctx: AppContext,
    cert: ArmCertificate,
    current: CurrentCertificate | None,
    certificate: str,
    bindings: list[tuple[ArmBinding, bool]],
    last_error: str,
) -> LinkedCertificate:
    """Write ARM's state into the link and binding rows (ETag-checked upserts). What ARM holds
    (thumbprint, expiration, keyVaultSecretStatus) is recorded after a failed sync too, like a
    Key Vault read (observations.py): App Service may have pulled a version by itself. A read
    older than the one the row records never replaces it (by when ARM answered)."""
    now = utcnow()
    secret_id = f"{imported_vault_url(ctx, cert)}/secrets/{cert.key_vault_secret_name}"

    def upsert_link() -> LinkedCertificate:
        existing = ctx.links.find(link_name(cert))
        link = existing or LinkedCertificate(link_name(cert), cert.resource_group, parse_secret_id(secret_id).id)
        link.certificate = certificate or link.certificate
        link.resource_id, link.last_sync_error = cert.id, last_error[:1000]
        if existing is None or _not_older(cert, link):
            if not last_error and link.thumbprint != cert.thumbprint:
                link.last_synced_at = now
            _record_arm_state(link, cert, current)
            link.last_checked_at = now
        return ctx.links.save(link) if existing else ctx.links.add(link)

    link = retry_on_conflict(upsert_link)
    if bindings:
        _index_bindings(ctx, link, [(_row(link, b, now), written) for b, written in bindings])
    return link


def _not_older(cert: ArmCertificate, link: LinkedCertificate) -> bool:
    """ARM's answer was read no earlier than the row's last recorded read (an answer without a
    read time is as new as now)."""
    return cert.read_at is None or link.last_checked_at is None or cert.read_at >= link.last_checked_at


def _record_arm_state(link: LinkedCertificate, cert: ArmCertificate, current: CurrentCertificate | None) -> None:
    link.server_farm_id, link.secret_status = cert.server_farm_id, cert.secret_status
    if cert.thumbprint:
        link.thumbprint, link.not_after, link.hostnames = cert.thumbprint, cert.expiration, cert.host_names
    if current is not None and current.thumbprint == cert.thumbprint:
        link.version, link.secret_updated_on = current.version.version, current.version.updated_on


def imported_vault_url(ctx: AppContext, cert: ArmCertificate) -> str:
    """The URL of the vault a certificate resource imports from; it must be one of certsync's."""
    url = vault_url_for_id(ctx, cert.key_vault_id)
    if url is None:
        what = f"{cert.id} imports from {cert.key_vault_id}, not a vault certsync uses"
        raise Conflict(what, code="NotCertsyncVault")
    return url


def _row(link: LinkedCertificate, b: ArmBinding, now: datetime) -> SslBinding:
    state = SslState(b.ssl_state)
    return SslBinding(b.site, b.hostname, link.name, b.thumbprint, state, now, b.slot, b.resource_group)


def _index_bindings(ctx: AppContext, link: LinkedCertificate, rows: list[tuple[SslBinding, bool]]) -> None:
    """Rows already indexed under this link change in one transaction per app; new rows (and
    rows that lost a race) go one by one, each with its index entry first. A row whose binding
    was just written in ARM is always rewritten (a new ETag), so a sweep that read it before and
    listed ARM before that write cannot drop it as stale (stale.py)."""
    known = {(b.app, b.hostname): b for b in ctx.bindings.for_link(link.name)}
    batch, single = [], []
    for row, written in rows:
        existing = known.get((row.app, row.hostname))
        if existing is None:
            single.append(row)
        elif written or _differs(existing, row):
            row.etag = existing.etag
            batch.append(row)
    for row in single + ctx.bindings.save_batch(batch):
        retry_on_conflict(partial(_upsert_binding, ctx, row))


def _differs(a: SslBinding, b: SslBinding) -> bool:
    return (a.thumbprint, a.ssl_state, a.slot) != (b.thumbprint, b.ssl_state, b.slot)


def _upsert_binding(ctx: AppContext, row: SslBinding) -> SslBinding:
    existing = ctx.bindings.find(row.app, row.hostname)
    if existing is None:
        return ctx.bindings.add(row)
    row.etag = existing.etag
    return ctx.bindings.save(row)


def record_error(
    ctx: AppContext, cert: ArmCertificate, current: CurrentCertificate | None, certificate: str, err: CertsyncError
) -> None:
    """Best effort: the error itself is what the caller reports."""
    try:
        index(ctx, cert, current, certificate, [], last_error=f"{err.code}: {err.message}")
    except CertsyncError as failure:
        log.warning("could not record the sync error of %s: %s", cert.id, failure.code)


def sync_indexed_link(ctx: AppContext, link: LinkedCertificate) -> tuple[bool, int]:
    """Sync the certificate resource a link row indexes (POST /links/{name}/sync). A resource
    deleted in ARM takes its index rows with it (the link as read, ETag-checked)."""
    where = parse_resource_id(link.resource_id)
    snapshot = read_index(ctx, [link])  # before ARM is read (stale.py)
    try:
        cert = arm(ctx).get_certificate(where.subscription, where.resource_group, where.name)
    except NotFound as err:
        if err.code in GONE_CODES:
            drop_link(ctx, link)
        raise NotFound(
            f"{link.resource_id} no longer exists in Azure Resource Manager; certsync removed its index rows",
            code="LinkNotFound",
        ) from None
    secret = parse_secret_id(f"{imported_vault_url(ctx, cert)}/secrets/{cert.key_vault_secret_name}")
    current = read_secret(ctx, secret, ctx.certificates.find(link.certificate) if link.certificate else None)
    changed, moved, _ = sync_certificate(ctx, cert, current, link.certificate, snapshot=snapshot)
    return changed, moved


@dataclass(frozen=True)
class Checkpoint:
    """Where a sweep unit goes on: after this secret id's resources up to this (lowercased)
    resource id. Resources are taken by secret id, then resource id, so one secret imported by
    thousands of resources splits too."""

    secret: str = ""
    resource: str = ""

    def pending(self, by_secret: dict[str, list[ArmCertificate]]) -> list[tuple[str, list[ArmCertificate]]]:
        found = []
        for secret in sorted(by_secret):
            certs = sorted(by_secret[secret], key=resource_key)
            if secret == self.secret:
                certs = [c for c in certs if resource_key(c) > self.resource]
            elif secret < self.secret:
                continue
            if certs:
                found.append((secret, certs))
        return found


def resource_key(cert: ArmCertificate) -> str:
    return cert.id.lower()


def sweep(ctx: AppContext, budget_seconds: float | None = None, after: Checkpoint | None = None) -> ArmSyncResult:
    """Discover every certificate resource that imports one of certsync's secrets (one list per
    subscription), sync those whose thumbprint, status or index lags the secret's latest version
    (one Key Vault read per secret), and drop the index rows of what ARM no longer holds: links
    whose resource is gone, bindings gone from sites and slots (their group listed only when the
    link has binding rows).

    As a sweep unit: resources in (secret id, resource id) order, only those after `after`, at
    least one, and none begun once `budget_seconds` are spent (`unfinished_secrets` and
    `checkpoint` say where to go on). Only the first unit (no `after`) drops links gone: one pass
    per sweep, from its own snapshot and listing."""
    started, result, after = time.monotonic(), ArmSyncResult(), after or Checkpoint()
    snapshot = read_index(ctx, ctx.links.list())  # before ARM is listed (stale.py); one read, not one per resource
    listed = managed_certificates(ctx)
    if not after.secret:
        present = {c.id.lower() for c in listed}
        result.links_removed = drop_links_gone(ctx, snapshot, present, managed_subscriptions(ctx))
    pending = after.pending(_by_secret(ctx, listed))
    owners = {ctx.secret_of(c).id: c for c in ctx.certificates.list() if c.secret_name}
    groups = GroupBindings(arm(ctx))

    def spent() -> bool:  # at least one resource per unit, so a chain of continuations always ends
        elapsed = time.monotonic() - started
        return result.checkpoint is not None and budget_seconds is not None and elapsed > budget_seconds

    for done, (secret, certs) in enumerate(pending):
        if spent():
            result.unfinished_secrets = len(pending) - done
            break
        owner = owners.get(secret)
        current = _read_or_record(ctx, secret, certs, owner, result)
        if current is None:
            continue  # its error recorded on each of its resources
        for cert in certs:
            if spent():
                result.unfinished_secrets = len(pending) - done  # this one included: it goes on after `cert`
                return result
            _sweep_resource(ctx, cert, current, owner.name if owner else "", groups, snapshot, result)
            result.checkpoint = Checkpoint(secret, resource_key(cert))
    return result


def _by_secret(ctx: AppContext, listed: list[ArmCertificate]) -> dict[str, list[ArmCertificate]]:
    """The listed resources by the id of the secret they import (in any of certsync's vaults)."""
    by_secret: dict[str, list[ArmCertificate]] = defaultdict(list)
    for cert in listed:
        vault_url = vault_url_for_id(ctx, cert.key_vault_id)
        if vault_url is not None:
            by_secret[f"{vault_url}/secrets/{cert.key_vault_secret_name.lower()}"].append(cert)
    return by_secret


def _read_or_record(
    ctx: AppContext, secret: str, certs: list[ArmCertificate], owner: Certificate | None, result: ArmSyncResult
) -> CurrentCertificate | None:
    """The secret's current version, read once for its resources; when it cannot be read, the
    error is recorded on each of them (and they count as done)."""
    try:
        return read_secret(ctx, parse_secret_id(secret), owner)
    except CertsyncError as err:
        for cert in certs:
            record_error(ctx, cert, None, owner.name if owner else "", err)
            result.failures[link_name(cert)] = err.code
        result.checkpoint = Checkpoint(secret, resource_key(certs[-1]))
        return None


def _sweep_resource(
    ctx: AppContext,
    cert: ArmCertificate,
    current: CurrentCertificate,
    owner_name: str,
    groups: GroupBindings,
    snapshot: IndexSnapshot,
    result: ArmSyncResult,
) -> None:
    """Sync one resource, or (settled) drop its binding rows ARM no longer holds."""
    try:
        if _settled(cert, current, snapshot.links.get(link_name(cert))):
            result.bindings_removed += _drop_settled_bindings_gone(ctx, cert, groups, snapshot)
            return
        changed, moved, removed = sync_certificate(ctx, cert, current, owner_name, groups, snapshot)
    except CertsyncError as err:
        result.failures[link_name(cert)] = err.code
        return
    result.add(changed, moved, removed)


def _drop_settled_bindings_gone(
    ctx: AppContext, cert: ArmCertificate, groups: GroupBindings, snapshot: IndexSnapshot
) -> int:
    """A settled resource needs no sync, but its bindings may have gone (site or slot deleted,
    hostname removed, SSL off, bound elsewhere): list its group only if certsync indexed any."""
    rows = snapshot.rows_of(link_name(cert))
    if not rows:
        return 0
    ours = [b for b in groups.of(cert) if b.thumbprint == cert.thumbprint]
    return drop_bindings_gone(ctx, rows, ours)


def _settled(cert: ArmCertificate, current: CurrentCertificate, indexed: LinkedCertificate | None) -> bool:
    """ARM holds the current version and certsync's index says so without an error."""
    if cert.thumbprint != current.thumbprint or cert.secret_status != SUCCEEDED:
        return False
    return indexed is not None and not indexed.last_sync_error and indexed.thumbprint == cert.thumbprint
