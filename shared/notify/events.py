"""Events and their durable record: one delivery row per configured webhook, then one queued
attempt each (shared.notify.delivery sends it).

An event's id is derived from what caused it (the operation, or the condition and its time), so
recording the same event again, after a crash or by a second instance, finds the rows already
there and sends nothing twice. The id is the idempotency key every attempt carries.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.app_context import AppContext
from shared.clock import epoch_ms, to_iso, utcnow
from shared.errors import CertsyncError, Conflict, Retry, classify
from shared.model import Delivery, Operation, OperationKind
from shared.notify.targets import WebhookTarget
from shared.operations import Handler, new_operation, new_operation_id, submit

log = logging.getLogger("certsync.notify")


class EventType(StrEnum):
    ISSUED = "certificate.issued"
    RENEWED = "certificate.renewed"
    REKEYED = "certificate.rekeyed"
    REVOKED = "certificate.revoked"  # a CA confirmed a revocation (shared.revoke)
    RENEWAL_FAILED = "certificate.renewalFailed"
    EXPIRING = "certificate.expiring"
    SYNC_FAILED = "sync.failed"
    LINK_OUT_OF_SYNC = "link.outOfSync"


ISSUANCE_EVENTS = {
    OperationKind.ISSUE: EventType.ISSUED,
    OperationKind.RENEW: EventType.RENEWED,
    OperationKind.REKEY: EventType.REKEYED,
}


@dataclass(frozen=True)
class Event:
    id: str
    type: EventType
    subject: str  # a certificate or link name
    time: datetime
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"id": self.id, "type": self.type.value, "subject": self.subject, "time": to_iso(self.time),
                "data": self.data}


def event_id(at: datetime, *identity: str) -> str:
    """Newest first like operation ids (inverted milliseconds), then a hash of what caused it."""
    inverted = 10**13 - 1 - epoch_ms(at)
    return f"{inverted:013d}-{hashlib.sha256('|'.join(identity).encode()).hexdigest()[:12]}"


def operation_event(op: Operation, kind: EventType, data: dict) -> Event:
    """An event caused by an operation: its id is fixed by the operation, so a redelivery records it once."""
    at = op.created_at or utcnow()
    return Event(f"{op.id[:13]}-{hashlib.sha256(f'{op.id}|{kind}'.encode()).hexdigest()[:12]}", kind, op.target,
                 at, data)


def record(ctx: AppContext, event: Event) -> list[Delivery]:
    """Write a delivery row per webhook, then queue its first attempt. A row already there means
    the event was recorded before: skipped. A queue failure leaves the row Pending, and the watch
    (shared.notify.watch.resume_stalled) queues it later: the event itself is never lost."""
    recorded = []
    for target in ctx.settings.webhooks:
        delivery = _delivery(event, target)
        try:
            ctx.deliveries.add(delivery)
        except Conflict:
            continue
        recorded.append(delivery)
        try:
            submit(ctx, attempt_of(delivery))
        except CertsyncError as err:
            log.warning("delivery %s to %s recorded, not queued yet: %s", delivery.id, target.shown, err.code)
    return recorded


def _delivery(event: Event, target: WebhookTarget) -> Delivery:
    now = utcnow()
    return Delivery(
        id=f"{event.id}-{target.key}",
        event_id=event.id,
        event_type=event.type.value,
        subject=event.subject,
        webhook=target.shown,
        target_key=target.key,
        payload=event.as_dict(),
        operation=new_operation_id(),
        created_at=now,
        next_attempt_at=now,
    )


def attempt_of(delivery: Delivery) -> Operation:
    """The operation that makes the delivery's next attempt (its id is on the delivery row)."""
    parameters = {"event": delivery.event_type, "webhook": delivery.webhook}
    op = new_operation(OperationKind.DELIVER_WEBHOOK, delivery.id, parameters, "certsync")
    op.id = delivery.operation
    return op


def notify_sync_failure(handler: Handler) -> Handler:
    """Wrap a sync handler: a failure that is final (not handed back for redelivery) is recorded
    as a `sync.failed` event before the engine records the operation, with the operation's id."""

    def run(ctx: AppContext, op: Operation) -> dict:
        try:
            return handler(ctx, op)
        except Exception as err:
            if op.final_attempt or classify(err) is not Retry.REDELIVER:
                code, message = (err.code, err.message) if isinstance(err, CertsyncError) else ("InternalError", "")
                data = {"operation": op.id, "kind": op.kind.value, "error": {"code": code, "message": message}}
                record(ctx, operation_event(op, EventType.SYNC_FAILED, data))
            raise

    return run

