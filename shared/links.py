"""Linked certificates and SSL bindings: create, read, delete.

Importing a link reads its secret's current version and checks it is a usable PFX. A binding
is refused when the link's certificate is expired, its key does not match, or it does not
cover the hostname.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from shared import pki
from shared.app_context import AppContext
from shared.appservice.linking import bind_hostname, unbind_hostname
from shared.clock import utcnow
from shared.errors import BadRequest, CertsyncError, Conflict, DependencyError, NotFound, PreconditionFailed
from shared.hostnames import normalize_hostname
from shared.model import (
    Certificate,
    LinkedCertificate,
    SslBinding,
    SslState,
    validate_app,
    validate_name,
    validate_scope,
)
from shared.revocation import check_not_revoked
from shared.secret_refs import (
    CurrentCertificate,
    SecretRef,
    certificate_at,
    check_vault_host,
    parse_secret_id,
)
from shared.sync.executor import fetch_current, sync_link
from shared.tables import retry_lost_races, retry_on_conflict
from shared.vault import VAULT_UNREACHABLE

log = logging.getLogger("certsync.links")
DEFAULT_SCOPE = "default"
MAX_SETTLE_TRIES = 5
# A VaultNotFound answer takes at least this long: a closed port answers in a millisecond, a name
# that does not resolve in a DNS round trip; padded, the two look alike.
VAULT_NOT_FOUND_MIN_S = 0.5


@dataclass(frozen=True)
class NewLink:
    name: str
    scope: str = DEFAULT_SCOPE
    certificate: str | None = None
    key_vault_secret_id: str | None = None


def create_link(ctx: AppContext, spec: NewLink) -> LinkedCertificate:
    validate_name(spec.name, "link name")
    validate_scope(spec.scope)
    if bool(spec.certificate) == bool(spec.key_vault_secret_id):
        raise BadRequest("give exactly one of certificate or keyVaultSecretId", code="InvalidLinkSource")
    certificate = ""
    if spec.certificate:
        cert = ctx.certificates.find(validate_name(spec.certificate, "certificate name"))
        if cert is None:
            raise NotFound(f"certificate {spec.certificate} was not found", code="CertificateNotFound")
        if not cert.has_been_issued:
            raise Conflict(f"certificate {cert.name} has not been issued yet", code="NotIssued")
        ref, certificate = ctx.secret_of(cert), cert.name
    else:
        ref = parse_secret_id(spec.key_vault_secret_id)
        check_vault_host(ref, ctx.settings.vault_is_local_emulator)
    if ctx.links.find(spec.name) is not None:
        raise Conflict(f"linked certificate {spec.name} already exists", code="LinkExists")
    link = LinkedCertificate(name=spec.name, scope=spec.scope, secret_id=ref.id, certificate=certificate)
    current = _fetch_first(ctx, link, ref)
    now = utcnow()
    if current.bundle.not_after <= now:
        expired = f"the certificate in {ref.id} expired on {current.bundle.not_after:%Y-%m-%d}"
        raise BadRequest(expired, code="CertificateExpired")
    link.thumbprint, link.version = current.thumbprint, current.version.version
    link.secret_updated_on = current.version.updated_on
    link.not_after, link.hostnames = current.bundle.not_after, pki.dns_names(current.bundle.certificate)
    link.last_synced_at = link.last_checked_at = now
    try:
        added = ctx.links.add(link)
    except Conflict:
        raise Conflict(f"linked certificate {spec.name} already exists", code="LinkExists") from None
    if certificate:
        _hold_certificate(ctx, added)
    return added


def _fetch_first(ctx: AppContext, link: LinkedCertificate, ref: SecretRef) -> CurrentCertificate:
    """A vault no one answers for (no such name, nothing on the port) is the caller's mistake:
    404 VaultNotFound, one answer for both and given no sooner than VAULT_NOT_FOUND_MIN_S, so
    the endpoint tells nothing about which ports are open. A vault certsync is configured with, or one a link
    already reads from, failing so is an outage: 503 as ever."""
    started = time.monotonic()
    try:
        return fetch_current(ctx, link)
    except DependencyError as err:
        if err.code != VAULT_UNREACHABLE or _known_vault(ctx, ref):
            raise
    time.sleep(max(0.0, started + VAULT_NOT_FOUND_MIN_S - time.monotonic()))
    raise NotFound(f"no Key Vault answers at {ref.vault_url}; check the vault name", code="VaultNotFound")


def _known_vault(ctx: AppContext, ref: SecretRef) -> bool:
    """One of the vaults certsync is configured with, or one a link already reads from."""
    return ctx.settings.vault_named(ref.vault_url) is not None or bool(ctx.links.for_secret(ref.id))


def _hold_certificate(ctx: AppContext, link: LinkedCertificate) -> None:
    """Touch the certificate (an ETag write) once its link exists, so a delete that looked for
    links before this one was added loses its race and looks again. If the certificate was
    deleted meanwhile, take the link back: a link never outlives its certificate."""
    try:
        retry_on_conflict(lambda: ctx.certificates.save(ctx.certificates.get(link.certificate)))
    except CertsyncError as err:
        _take_back(ctx, link)
        if isinstance(err, NotFound):
            what = f"certificate {link.certificate} was deleted while the link was created"
            raise NotFound(what, code="CertificateNotFound") from None
        raise


def _take_back(ctx: AppContext, link: LinkedCertificate) -> None:
    try:
        retry_on_conflict(lambda: ctx.links.delete(ctx.links.reread(link)))
    except NotFound:
        pass
    except CertsyncError as err:
        log.warning("could not take back link %s after its certificate check failed: %s", link.name, err.code)


def links_of_certificate(ctx: AppContext, cert: Certificate) -> list[LinkedCertificate]:
    return ctx.links.for_secret(ctx.secret_of(cert).id)


def delete_link(ctx: AppContext, name: str) -> None:
    """Refuse while any binding uses the link; the delete carries the ETag of the read the check
    was made on. put_binding touches the link after writing its binding, so a binding written
    after our check makes the delete lose its race: we read again and refuse. A binding written
    after the delete finds no link to touch and undoes itself. No step ever puts a link back.
    A sync that writes the link meanwhile also costs a try: re-read, re-check (never a 412)."""

    def attempt() -> None:
        link = ctx.links.get(name)
        _refuse_if_bound(ctx, name)
        ctx.links.delete(link)

    retry_lost_races(attempt, f"linked certificate {name}")


def _refuse_if_bound(ctx: AppContext, name: str) -> None:
    users = ctx.bindings.for_link(name)
    if users:
        where = ", ".join(f"{b.app}/{b.hostname}" for b in users[:5])
        raise Conflict(f"linked certificate {name} is used by {len(users)} binding(s): {where}", code="LinkInUse")


@dataclass(frozen=True)
class BindingRequest:
    app: str
    hostname: str
    link: str
    ssl_state: str = SslState.SNI.value
    slot: str = ""  # a deployment slot of the app (App Service links only)


def put_binding(ctx: AppContext, request: BindingRequest) -> tuple[SslBinding, bool]:
    """Create or replace; returns (binding, created). A sync or another request that writes the
    binding or the link meanwhile costs a try: everything is read and checked again (never a 412)."""
    app = validate_app(request.app)
    hostname = normalize_hostname(request.hostname)
    try:
        ssl_state = SslState(request.ssl_state)
    except ValueError:
        raise BadRequest("sslState must be SniEnabled or IpBasedEnabled", code="InvalidSslState") from None
    name = validate_name(request.link, "link name")
    return retry_lost_races(
        lambda: _put_binding_once(ctx, request, app, hostname, ssl_state, name), f"binding {app}/{hostname}"
    )


def _put_binding_once(
    ctx: AppContext, request: BindingRequest, app: str, hostname: str, ssl_state: SslState, name: str
) -> tuple[SslBinding, bool]:
    link = ctx.links.get(name)
    if link.resource_id:  # the link indexes an App Service certificate: the binding is made in ARM
        created = ctx.bindings.find(app, hostname) is None
        return bind_hostname(ctx, link, app, hostname, ssl_state.value, request.slot), created
    if request.slot:  # never dropped silently: a slot is App Service's, and this link is certsync's alone
        raise BadRequest(
            f"field slot applies to App Service links only; linked certificate {link.name} is kept in certsync alone",
            code="InvalidField",
        )
    ref = parse_secret_id(link.secret_id)
    held = certificate_at(ctx.vault_for(ref.vault_url), ref.name, link.version)
    pki.check_usable(held.bundle, [hostname], utcnow())
    check_not_revoked(ctx.certificates.find(link.certificate) if link.certificate else None, held.thumbprint)
    existing = ctx.bindings.find(app, hostname)
    binding = SslBinding(app, hostname, link.name, link.thumbprint, ssl_state, utcnow())
    if existing is None:
        try:
            binding, created = ctx.bindings.add(binding), True
        except Conflict:  # created by another request meanwhile: this PUT replaces it on the next try
            raise PreconditionFailed(f"binding {app}/{hostname} was created meanwhile") from None
    else:
        binding.etag = existing.etag
        binding, created = ctx.bindings.save(binding), False
    return _settle_with_link(ctx, binding, link, existing), created


def _settle_with_link(
    ctx: AppContext, binding: SslBinding, link: LinkedCertificate, previous: SslBinding | None
) -> SslBinding:
    """Touch the link (an ETag write), so a sync that read it before this binding existed loses
    its race and checks again with this binding. If the link moved or vanished meanwhile,
    follow it through a full sync (which checks every binding, ours too), or undo our write."""
    try:
        held = link
        for _ in range(MAX_SETTLE_TRIES):
            if held.thumbprint != binding.thumbprint:
                sync_link(ctx, held)
                return ctx.bindings.find(binding.app, binding.hostname) or binding
            try:
                ctx.links.save(held)
                return binding
            except PreconditionFailed:
                held = ctx.links.reread(link)
        raise PreconditionFailed(f"linked certificate {link.name} kept changing; retry the binding")
    except CertsyncError:
        _undo(ctx, binding, previous)
        raise


def _undo(ctx: AppContext, binding: SslBinding, previous: SslBinding | None) -> None:
    """Put back what was there, only if the row is still the one we wrote."""
    try:
        if previous is None:
            ctx.bindings.delete(binding)
        else:
            previous.etag = binding.etag
            ctx.bindings.save(previous)
    except PreconditionFailed:
        pass  # someone wrote after us: theirs stands


def delete_binding(ctx: AppContext, app: str, hostname: str) -> None:
    """Delete with the ETag of the read; a sync or a PUT that writes the binding meanwhile costs a
    try: read again and delete what is there now (never a 412). Gone meanwhile: 404; still
    changing after every try: 503 Contended, nothing deleted. A binding of a link that indexes
    an App Service certificate is removed in ARM first (SSL off), else the next sync indexes it again."""
    app, hostname = validate_app(app), normalize_hostname(hostname)

    def attempt() -> None:
        binding = ctx.bindings.find(app, hostname)
        if binding is None:
            raise NotFound(f"app {app} has no binding for {hostname}", code="BindingNotFound")
        link = ctx.links.find(binding.link) if binding.resource_group else None
        if link is not None and link.resource_id:
            unbind_hostname(ctx, link, binding)
        ctx.bindings.delete(binding)

    retry_lost_races(attempt, f"binding {app}/{hostname}")
