"""Read models: the certificate list and the certificate overview.

Both measure "in sync" the same way (planner.link_sync_state, Table data only): a link is in
sync when it holds the newest version certsync knows of for its secret and every binding of it
serves that certificate too. The overview also reads the secret's current version live (one
GET) and records what it read on the certificate (observations.py) before it measures, so a
version written outside certsync puts the links that do not hold it out of sync at once, in the
overview and in the list alike; a version that cannot be synced makes them fail with its error.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from shared.app_context import AppContext
from shared.clock import utcnow
from shared.conditions import Condition, certificate_conditions, link_conditions
from shared.errors import NotFound
from shared.links import links_of_certificate
from shared.model import Certificate, LinkedCertificate, SslBinding
from shared.observations import describe, read_current
from shared.paging import Page
from shared.secret_refs import SecretRef
from shared.sync.planner import LinkSyncState, link_sync_state, newest_known, sync_error


@dataclass(frozen=True)
class BindingState:
    """One binding measured like its link: in sync when it serves the newest known version."""

    binding: SslBinding
    state: str  # InSync, BindingBehind (serves other than its link holds), LinkBehind (its link is behind)
    reason: str  # why not, in words ("" when in sync)

    @property
    def in_sync(self) -> bool:
        return self.state == "InSync"


def binding_state(binding: SslBinding, link: LinkedCertificate, newest: str, sync_error: str = "") -> BindingState:
    """Pure: a binding on another thumbprint than its link's lags its link (a sync cut short, or
    a move App Service refused); one on its link's lags with the link when that is behind."""
    failed = f"; the last sync failed: {sync_error}" if sync_error else ""
    if binding.thumbprint != link.thumbprint:
        why = f"serves another certificate than its linked certificate holds (a sync cut short or refused){failed}"
        return BindingState(binding, "BindingBehind", why)
    if newest and binding.thumbprint != newest:
        why = f"its linked certificate is behind the newest version; a sync moves both{failed}"
        return BindingState(binding, "LinkBehind", why)
    return BindingState(binding, "InSync", "")


@dataclass(frozen=True)
class LinkState:
    link: LinkedCertificate
    newest_thumbprint: str  # the newest version certsync knows of for the secret
    bindings: list[SslBinding]
    state: LinkSyncState
    conditions: list[Condition] = field(default_factory=list)
    sync_error: str = ""  # why a sync cannot bring the link to the newest version, if it cannot

    @property
    def in_sync(self) -> bool:
        return self.state is LinkSyncState.IN_SYNC

    @property
    def binding_states(self) -> list[BindingState]:
        return [binding_state(b, self.link, self.newest_thumbprint, self.sync_error) for b in self.bindings]


@dataclass(frozen=True)
class CertificateOverview:
    certificate: Certificate
    secret: SecretRef
    current_version: str | None  # live from Key Vault
    current_thumbprint: str | None
    current_error: str | None
    newest_thumbprint: str
    links: list[LinkState] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)

    @property
    def out_of_sync_links(self) -> int:
        return sum(1 for state in self.links if not state.in_sync)

    @property
    def sync_available(self) -> bool:
        return self.out_of_sync_links > 0


@dataclass(frozen=True)
class CertificateSummary:
    certificate: Certificate
    out_of_sync_links: int
    links: int
    conditions: list[Condition] = field(default_factory=list)
    vault: str = ""  # the URL of the vault holding its secret


def link_states(
    cert: Certificate, links: list[LinkedCertificate], bindings: dict[str, list[SslBinding]]
) -> list[LinkState]:
    """Pure: the sync state and conditions of each link of the certificate's secret, by name."""
    newest, now = newest_known(cert, links), utcnow()
    states = []
    for link in sorted(links, key=lambda link: link.name):
        state, error = link_sync_state(link, bindings.get(link.name, []), newest), sync_error(link, newest)
        conditions = link_conditions(link, state, now, error)
        states.append(LinkState(link, newest.thumbprint, bindings.get(link.name, []), state, conditions, error))
    return states


def certificate_overview(ctx: AppContext, name: str) -> CertificateOverview:
    cert = ctx.certificates.get(name)
    secret = ctx.secret_of(cert)
    links = links_of_certificate(ctx, cert)
    current_version = current_thumbprint = current_error = None
    if cert.has_been_issued:
        reading = read_current(ctx, ctx.vault_of(cert), cert.secret_name, cert)
        cert = reading.owner or cert
        if reading.current is not None:
            current_version, current_thumbprint = reading.current.version.version, reading.current.thumbprint
        if reading.error is not None:
            current_error = describe(reading.error)
    states = link_states(cert, links, ctx.bindings.for_links(link.name for link in links))
    newest = newest_known(cert, links).thumbprint
    out_of_sync = sum(1 for state in states if not state.in_sync)
    conditions = certificate_conditions(cert, utcnow(), out_of_sync, len(states))
    return CertificateOverview(
        cert, secret, current_version, current_thumbprint, current_error, newest, states, conditions
    )


def certificate_summary(ctx: AppContext, cert: Certificate) -> CertificateSummary:
    """The list's row of one certificate: the same link states as its overview, Table data only."""
    links = links_of_certificate(ctx, cert)
    states = link_states(cert, links, ctx.bindings.for_links(link.name for link in links))
    out_of_sync = sum(1 for s in states if not s.in_sync)
    conditions = certificate_conditions(cert, utcnow(), out_of_sync, len(states))
    vault = ctx.secret_of(cert).vault_url
    return CertificateSummary(cert, out_of_sync, len(states), conditions, vault)


def link_overview(ctx: AppContext, name: str) -> LinkState:
    """One link with its bindings, measured against the same newest version as its
    certificate's overview (all links of the secret); a link to a secret no certsync
    certificate owns is measured against itself."""
    link = ctx.links.get(name)
    cert = _certificate_or_none(ctx, link.certificate)
    if cert is None:
        bindings = ctx.bindings.for_link(link.name)
        state = link_sync_state(link, bindings, "")
        error = link.last_sync_error
        return LinkState(link, link.thumbprint, bindings, state, link_conditions(link, state, utcnow(), error), error)
    siblings = [other for other in links_of_certificate(ctx, cert) if other.name != link.name] + [link]
    states = link_states(cert, siblings, ctx.bindings.for_links([link.name]))
    return next(state for state in states if state.link.name == link.name)


def _certificate_or_none(ctx: AppContext, name: str) -> Certificate | None:
    if not name:
        return None
    try:
        return ctx.certificates.get(name)
    except NotFound:
        return None


def certificate_summaries(ctx: AppContext, top: int, token: str | None = None) -> Page[CertificateSummary]:
    """One page of the list, by name."""
    page = ctx.certificates.page(top, token)
    return Page([certificate_summary(ctx, cert) for cert in page.items], page.next_token)
