"""State-derived gauges, read from Table Storage at scrape time so that every instance answers
the same: expiry, renewal due, Ready, renewal failures, links out of sync and the sync lag.

Bounded: certificates are read page by page (at most MAX_CERTIFICATES); each costs what its row
in the certificate list costs (its links' index and rows, their bindings). Labels carry names
only (certificate, link), never secret material.
"""
from __future__ import annotations

from datetime import datetime

from shared import telemetry
from shared.app_context import AppContext
from shared.clock import utcnow
from shared.conditions import ConditionStatus, certificate_ready
from shared.links import links_of_certificate
from shared.model import Certificate
from shared.overview import LinkState, link_states
from shared.prometheus import Family, families_from_otel, render

MAX_CERTIFICATES = 1000
PAGE = 100


def exposition(ctx: AppContext) -> str:
    """What GET /api/metrics answers: the state gauges, then this instance's process metrics."""
    process = families_from_otel(telemetry.current().reader.get_metrics_data())
    return render([*state_families(ctx), *process])


def state_families(ctx: AppContext, now: datetime | None = None) -> list[Family]:
    now = now or utcnow()
    f = {
        "expiry": Family("certsync_certificate_expiration_timestamp_seconds", "gauge", "notAfter, Unix seconds"),
        "due": Family("certsync_certificate_renewal_due_timestamp_seconds", "gauge", "renewalDueAt, Unix seconds"),
        "ready": Family(
            "certsync_certificate_ready_status", "gauge", "Ready condition: issued, not expired, no failing renewal"
        ),
        "failures": Family("certsync_certificate_renewal_failures", "gauge", "Failed attempts since the last success"),
        "out": Family("certsync_links_out_of_sync", "gauge", "Links of the certificate's secret not in sync"),
        "lag": Family(
            "certsync_link_sync_lag_seconds",
            "gauge",
            "From Key Vault's version to every binding of the link serving it (links in sync)",
        ),
    }
    certificates, truncated = _certificates(ctx)
    for cert in certificates:
        _certificate_samples(f, cert, now)
        links = links_of_certificate(ctx, cert)
        states = link_states(cert, links, ctx.bindings.for_links(link.name for link in links))
        f["out"].add(sum(1 for s in states if not s.in_sync), certificate=cert.name)
        for state in states:
            lag = sync_lag_seconds(state)
            if lag is not None:
                f["lag"].add(lag, certificate=cert.name, link=state.link.name)
    partial = Family("certsync_metrics_truncated", "gauge", f"1 when more than {MAX_CERTIFICATES} certificates exist")
    partial.add(1 if truncated else 0)
    return [*f.values(), partial]


def _certificates(ctx: AppContext) -> tuple[list[Certificate], bool]:
    found: list[Certificate] = []
    token: str | None = None
    while len(found) < MAX_CERTIFICATES:
        page = ctx.certificates.page(PAGE, token)
        found.extend(page.items)
        token = page.next_token
        if token is None:
            return found[:MAX_CERTIFICATES], len(found) > MAX_CERTIFICATES
    return found[:MAX_CERTIFICATES], True


def _certificate_samples(f: dict[str, Family], cert: Certificate, now: datetime) -> None:
    if cert.not_after:
        f["expiry"].add(cert.not_after.timestamp(), certificate=cert.name)
    if cert.renewal_due_at:
        f["due"].add(cert.renewal_due_at.timestamp(), certificate=cert.name)
    ready = certificate_ready(cert, now)
    for status in ConditionStatus:
        f["ready"].add(1 if ready.status is status else 0, certificate=cert.name, condition=status.value)
    f["failures"].add(cert.failure_count, certificate=cert.name)


def sync_lag_seconds(state: LinkState) -> float | None:
    """For a link in sync: from Key Vault's `updated` of the version it holds to the last move
    of the link or of one of its bindings. None while it is not in sync (still lagging)."""
    link = state.link
    if not state.in_sync or link.secret_updated_on is None or link.last_synced_at is None:
        return None
    moves = [link.last_synced_at, *(b.updated_at for b in state.bindings if b.updated_at)]
    return max(0.0, (max(moves) - link.secret_updated_on).total_seconds())
