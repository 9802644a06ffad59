"""The health view's read model: what needs a person's attention, each item naming the
certificate (or link) it is about. Table data only, like the certificate list: expiring soon
(within WEBHOOK_EXPIRY_DAYS), failing renewals with their next attempt, links out of sync and
since when, recent failed operations and failed webhook deliveries."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.app_context import AppContext
from shared.clock import utcnow
from shared.conditions import Reason, certificate_ready
from shared.model import Certificate, Delivery, DeliveryStatus, Operation, OperationKind, OperationStatus
from shared.notify.watch import out_of_sync_links
from shared.overview import LinkState

RECENT_OPERATIONS = 200  # the newest operations looked at for failures
SHOWN = 20  # failed operations and deliveries shown
FAILING = (Reason.RENEWAL_FAILING, Reason.ISSUANCE_FAILED)


@dataclass(frozen=True)
class OutOfSync:
    state: LinkState
    certificate: str
    since: datetime


@dataclass
class Attention:
    expiring: list[Certificate] = field(default_factory=list)
    failing_renewals: list[Certificate] = field(default_factory=list)
    out_of_sync: list[OutOfSync] = field(default_factory=list)
    failed_operations: list[Operation] = field(default_factory=list)
    failed_deliveries: list[Delivery] = field(default_factory=list)


def needs_attention(ctx: AppContext, now: datetime | None = None) -> Attention:
    now, found = now or utcnow(), Attention()
    window = timedelta(days=ctx.settings.webhook_expiry_days)
    for cert in ctx.certificates.list():
        if cert.has_been_issued and cert.not_after is not None and cert.not_after - window <= now:
            found.expiring.append(cert)
        if cert.failure_count or certificate_ready(cert, now).reason in FAILING:
            found.failing_renewals.append(cert)
        found.out_of_sync += [OutOfSync(state, cert.name, since) for state, since in out_of_sync_links(ctx, cert)]
    found.expiring.sort(key=lambda c: c.not_after or now)
    found.out_of_sync.sort(key=lambda o: o.since)
    recent = ctx.operations.list(limit=RECENT_OPERATIONS)
    found.failed_operations = [
        op for op in recent if op.status is OperationStatus.FAILED and op.kind is not OperationKind.DELIVER_WEBHOOK
    ][:SHOWN]
    found.failed_deliveries = ctx.deliveries.list(status=DeliveryStatus.FAILED.value, limit=SHOWN)
    return found
