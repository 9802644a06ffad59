"""Conditions worth a notification, checked by the sync_sweep timer: certificates expiring
within WEBHOOK_EXPIRY_DAYS, links out of sync for longer than WEBHOOK_OUT_OF_SYNC_MINUTES, and
deliveries whose next attempt never reached the queue.

A condition notifies once: its event id is fixed by the certificate's notAfter or the moment the
link fell out of sync, so the record of that event (its delivery rows) is the record of the last
notification and later runs find it there.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.app_context import AppContext
from shared.clock import to_iso, utcnow
from shared.errors import CertsyncError, PreconditionFailed
from shared.links import links_of_certificate
from shared.model import Certificate, DeliveryStatus, LinkedCertificate
from shared.notify.events import Event, EventType, attempt_of, event_id, record
from shared.operations import new_operation_id, submit
from shared.overview import LinkState, link_states
from shared.sync.planner import LinkSyncState

log = logging.getLogger("certsync.notify")
STALLED_AFTER = timedelta(minutes=15)  # longer than functionTimeout: an attempt that never ran


@dataclass
class WatchReport:
    expiring: list[str] = field(default_factory=list)
    out_of_sync: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def run_watch(ctx: AppContext, now: datetime | None = None) -> WatchReport:
    now, report = now or utcnow(), WatchReport()
    if not ctx.settings.webhooks:
        return report
    for cert in ctx.certificates.list():
        try:
            if (event := expiring_event(cert, ctx.settings.webhook_expiry_days, now)) and record(ctx, event):
                report.expiring.append(cert.name)
            for event in out_of_sync_events(ctx, cert, now):
                if record(ctx, event):
                    report.out_of_sync.append(event.subject)
        except CertsyncError as err:
            report.errors[cert.name] = err.code
    report.resumed = resume_stalled(ctx, now)
    return report


def expiring_event(cert: Certificate, days: int, now: datetime) -> Event | None:
    """Pure: the certificate's notAfter is within `days` (no renewal has moved it yet)."""
    if not cert.has_been_issued or cert.not_after is None or now < cert.not_after - timedelta(days=days):
        return None
    since = cert.not_after - timedelta(days=days)
    data = {
        "notAfter": to_iso(cert.not_after),
        "daysLeft": max((cert.not_after - now).days, 0),
        "renewalDueAt": to_iso(cert.renewal_due_at),
        "lastError": cert.last_error,
        "thumbprint": cert.thumbprint,
    }
    key = event_id(since, EventType.EXPIRING, cert.name, to_iso(cert.not_after) or "")
    return Event(key, EventType.EXPIRING, cert.name, now, data)


def out_of_sync_since(link: LinkedCertificate, state: LinkSyncState, cert: Certificate) -> datetime | None:
    """Pure: since when the link has been out of sync, as far as the records tell (None: in sync)."""
    if state is LinkSyncState.IN_SYNC:
        return None
    if state is LinkSyncState.BINDINGS_BEHIND or link.thumbprint == cert.thumbprint:
        return link.last_synced_at or cert.secret_updated_on
    return cert.secret_updated_on or link.last_synced_at  # behind (or failing) since the newer version


def out_of_sync_links(ctx: AppContext, cert: Certificate) -> list[tuple[LinkState, datetime]]:
    """The certificate's links that are not in sync, with since when (the health view shares it)."""
    links = links_of_certificate(ctx, cert)
    if not links:
        return []
    found = []
    for state in link_states(cert, links, ctx.bindings.for_links(link.name for link in links)):
        since = out_of_sync_since(state.link, state.state, cert)
        if since is not None:
            found.append((state, since))
    return found


def out_of_sync_events(ctx: AppContext, cert: Certificate, now: datetime) -> list[Event]:
    limit, events = timedelta(minutes=ctx.settings.webhook_out_of_sync_minutes), []
    for state, since in out_of_sync_links(ctx, cert):
        if now - since < limit:
            continue
        data = {"certificate": cert.name, "state": state.state.value, "outOfSyncSince": to_iso(since),
                "lastSyncError": state.link.last_sync_error}
        key = event_id(since + limit, EventType.LINK_OUT_OF_SYNC, state.link.name, to_iso(since) or "")
        events.append(Event(key, EventType.LINK_OUT_OF_SYNC, state.link.name, now, data))
    return events


def resume_stalled(ctx: AppContext, now: datetime) -> list[str]:
    """Pending deliveries whose attempt is long overdue (never queued, or lost): queue a new one."""
    resumed = []
    for delivery in ctx.deliveries.list(status=DeliveryStatus.PENDING.value, limit=1000):
        if (delivery.next_attempt_at or now) > now - STALLED_AFTER:
            continue
        delivery.operation, delivery.next_attempt_at = new_operation_id(), now
        try:
            ctx.deliveries.save(delivery)  # ETag: an attempt that ran meanwhile wins
            submit(ctx, attempt_of(delivery))
            resumed.append(delivery.id)
        except PreconditionFailed:
            continue
        except CertsyncError as err:
            log.warning("delivery %s could not be queued again: %s", delivery.id, err.code)
    return resumed
