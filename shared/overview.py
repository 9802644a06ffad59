"""Read models: the certificate list and the certificate overview (which links are out of
sync and how their thumbprints differ)."""
from __future__ import annotations

from dataclasses import dataclass, field

from shared.app_context import AppContext
from shared.errors import CertsyncError
from shared.links import links_of_certificate
from shared.model import Certificate, LinkedCertificate, SslBinding
from shared.secret_refs import SecretRef, certificate_secret, current_certificate


@dataclass(frozen=True)
class LinkState:
    link: LinkedCertificate
    current_thumbprint: str | None
    bindings: list[SslBinding]

    @property
    def in_sync(self) -> bool:
        return self.current_thumbprint is not None and self.link.thumbprint == self.current_thumbprint


@dataclass(frozen=True)
class CertificateOverview:
    certificate: Certificate
    secret: SecretRef
    current_version: str | None
    current_thumbprint: str | None
    current_error: str | None
    links: list[LinkState] = field(default_factory=list)

    @property
    def sync_available(self) -> bool:
        return any(not state.in_sync for state in self.links)


@dataclass(frozen=True)
class CertificateSummary:
    certificate: Certificate
    out_of_sync_links: int
    links: int


def certificate_overview(ctx: AppContext, name: str) -> CertificateOverview:
    cert = ctx.certificates.get(name)
    secret = certificate_secret(ctx.vault.url, cert)
    links = links_of_certificate(ctx, cert)
    current_version = current_thumbprint = current_error = None
    if cert.has_been_issued:
        try:
            current = current_certificate(ctx.vault, cert.secret_name)
            current_version, current_thumbprint = current.version.version, current.thumbprint
        except CertsyncError as err:
            current_error = f"{err.code}: {err.message}"
    bindings = ctx.bindings.for_links(l.name for l in links)
    states = [LinkState(l, current_thumbprint, bindings.get(l.name, [])) for l in sorted(links, key=lambda l: l.name)]
    return CertificateOverview(cert, secret, current_version, current_thumbprint, current_error, states)


def latest_known_thumbprint(cert: Certificate, links: list[LinkedCertificate]) -> str:
    """The newest version anyone recorded for the secret: what certsync wrote, or what a link
    saw later (a version written outside certsync). Pure, Table data only."""
    newest, thumbprint = cert.secret_updated_on, cert.thumbprint
    for link in links:
        if link.secret_updated_on and link.thumbprint and (newest is None or link.secret_updated_on > newest):
            newest, thumbprint = link.secret_updated_on, link.thumbprint
    return thumbprint


def certificate_summaries(ctx: AppContext) -> list[CertificateSummary]:
    """Table data only (no Key Vault call per certificate): a link is counted out of sync when
    it does not hold the newest thumbprint recorded for the secret, or has a sync error. A
    version nobody has seen yet shows up after the next sweep (the overview checks live)."""
    certs = ctx.certificates.list()
    by_secret: dict[str, list[LinkedCertificate]] = {}
    for link in ctx.links.list():
        by_secret.setdefault(link.secret_id, []).append(link)
    summaries = []
    for cert in sorted(certs, key=lambda c: c.name):
        links = by_secret.get(certificate_secret(ctx.vault.url, cert).id, [])
        latest = latest_known_thumbprint(cert, links)
        stale = sum(1 for l in links if l.thumbprint != latest or l.last_sync_error)
        summaries.append(CertificateSummary(cert, stale, len(links)))
    return summaries
