"""Linking from certsync: put a certificate into an app's webspace (a Microsoft.Web/certificates
resource imported from its Key Vault secret) and bind hostnames to it with SNI, in ARM.

Safety first, as everywhere: the secret's current version must be unexpired, match its key and
cover every hostname before anything is created or bound. The rows written afterwards index
what ARM answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import pki
from shared.app_context import AppContext
from shared.appservice.resources import ArmApp, ArmBinding, ArmCertificate, parse_resource_id
from shared.appservice.sync import arm, index, not_imported, vault_id_of
from shared.clock import utcnow
from shared.errors import BadRequest, Conflict, NotFound
from shared.hostnames import normalize_hostname
from shared.model import LinkedCertificate, SslBinding, SslState, validate_app, validate_name, validate_scope
from shared.revocation import check_not_revoked
from shared.secret_refs import current_certificate, parse_secret_id


@dataclass(frozen=True)
class AppLinkRequest:
    app: str
    certificate: str
    resource_group: str
    subscription: str = ""  # "": the first managed subscription
    slot: str = ""
    hostnames: tuple[str, ...] = ()


def link_to_app(ctx: AppContext, request: AppLinkRequest) -> tuple[LinkedCertificate, list[SslBinding]]:
    """Create (or reuse) the certificate resource in the app's resource group, then bind."""
    service = arm(ctx)
    app = _managed_app(ctx, request)
    cert = ctx.certificates.find(validate_name(request.certificate, "certificate name"))
    if cert is None:
        raise NotFound(f"certificate {request.certificate} was not found", code="CertificateNotFound")
    if not cert.has_been_issued:
        raise Conflict(f"certificate {cert.name} has not been issued yet", code="NotIssued")
    vault_id = vault_id_of(ctx, ctx.secret_of(cert).vault_url)  # keyVaultId: the secret's vault
    hostnames = tuple(dict.fromkeys(normalize_hostname(h) for h in request.hostnames))
    current = current_certificate(ctx.vault_of(cert), cert.secret_name)
    pki.check_usable(current.bundle, hostnames, utcnow())
    check_not_revoked(cert, current.thumbprint)
    same_space = [
        c
        for c in service.list_certificates(app.subscription)
        if c.resource_group.lower() == app.resource_group.lower() and c.references(vault_id, cert.secret_name)
    ]
    imported = same_space[0] if same_space else None  # App Service allows one resource per thumbprint and webspace
    if imported is None or imported.thumbprint != current.thumbprint:
        wanted = imported or ArmCertificate(
            app.subscription,
            app.resource_group,
            cert.name,
            app.location,
            vault_id,
            cert.secret_name,
            app.server_farm_id,
        )
        imported = service.put_certificate(wanted)
    if imported.thumbprint != current.thumbprint:
        raise not_imported(imported, current)
    bound = [_bind(ctx, app, host, imported.thumbprint, SslState.SNI.value) for host in hostnames]
    link = index(ctx, imported, current, cert.name, [(b, True) for b in bound], last_error="")
    return link, ctx.bindings.for_link(link.name)


def bind_hostname(
    ctx: AppContext, link: LinkedCertificate, app_name: str, hostname: str, ssl_state: str, slot: str = ""
) -> SslBinding:
    """PUT /apps/{app}/bindings/{hostname} for a link that indexes an ARM certificate resource:
    the binding is made in ARM (the app must be in the certificate's webspace)."""
    where = parse_resource_id(link.resource_id)
    slot = validate_app(slot) if slot else ""
    app = arm(ctx).get_app(where.subscription, where.resource_group, validate_app(app_name), slot)
    host = normalize_hostname(hostname)
    secret = parse_secret_id(link.secret_id)
    current = current_certificate(ctx.vault_for(secret.vault_url), secret.name)
    if current.thumbprint != link.thumbprint:
        raise Conflict(f"linked certificate {link.name} is behind its secret; sync it first", code="LinkBehind")
    pki.check_usable(current.bundle, [host], utcnow())
    check_not_revoked(ctx.certificates.find(link.certificate) if link.certificate else None, current.thumbprint)
    bound = _bind(ctx, app, host, link.thumbprint, ssl_state)
    imported = arm(ctx).get_certificate(where.subscription, where.resource_group, where.name)
    index(ctx, imported, current, link.certificate, [(bound, True)], last_error="")
    row = ctx.bindings.find(bound.site, bound.hostname)
    if row is None:
        raise Conflict(f"the binding of {host} on {bound.app} was removed meanwhile", code="ArmConflict")
    return row


def unbind_hostname(ctx: AppContext, link: LinkedCertificate, binding: SslBinding) -> None:
    """DELETE /apps/{app}/bindings/{hostname} of a binding indexed from ARM: SSL is turned off for
    the hostname in ARM (the hostname stays on the site, as the portal's "remove binding" does)
    and read back, so the next sync does not index it again. Only a binding still on this link's
    certificate is touched: one gone, without SSL or bound to another certificate is not certsync's."""
    where = parse_resource_id(link.resource_id)
    group = binding.resource_group or where.resource_group
    wanted = ArmBinding(where.subscription, group, binding.app, binding.hostname, binding.slot, "Disabled", "")
    try:
        seen = arm(ctx).get_binding(wanted)
        if not seen.thumbprint or seen.thumbprint not in (binding.thumbprint, link.thumbprint):
            return
        arm(ctx).put_binding(wanted)
        back = arm(ctx).get_binding(wanted)
    except NotFound:
        return
    if back.thumbprint:
        raise Conflict(f"SSL for {binding.hostname} on {wanted.app} is still on in ARM", code="ArmConflict")


def _bind(ctx: AppContext, app: ArmApp, hostname: str, thumbprint: str, ssl_state: str) -> ArmBinding:
    if ssl_state not in (SslState.SNI.value, SslState.IP.value):
        raise BadRequest("sslState must be SniEnabled or IpBasedEnabled", code="InvalidSslState")
    wanted = ArmBinding(app.subscription, app.resource_group, app.site, hostname, app.slot, ssl_state, thumbprint)
    arm(ctx).put_binding(wanted)
    back = arm(ctx).get_binding(wanted)
    if back.thumbprint != thumbprint:
        raise Conflict(f"the binding of {hostname} on {wanted.app} did not take the certificate", code="ArmConflict")
    return back


def _managed_app(ctx: AppContext, request: AppLinkRequest) -> ArmApp:
    scopes = ctx.settings.app_service_scopes
    subscription = (request.subscription or scopes[0].subscription).lower()
    group = validate_scope(request.resource_group)
    if not any(s.covers(subscription, group) for s in scopes):
        raise BadRequest(
            f"resource group {group} of subscription {subscription} is not managed (APP_SERVICE_SUBSCRIPTIONS)",
            code="NotManaged",
        )
    slot = validate_app(request.slot) if request.slot else ""
    return arm(ctx).get_app(subscription, group, validate_app(request.app), slot)
