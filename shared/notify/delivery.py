"""Deliver one recorded event to one webhook: the handler of `deliverWebhook` operations.

Each attempt is an operation. A 2xx answer marks the delivery Succeeded, and a Succeeded (or
Failed) delivery is never sent again, whatever the queue redelivers. Any other answer, or none,
schedules the next attempt as a new operation after a growing backoff (30 s doubling, at most an
hour) until WEBHOOK_CUTOFF_HOURS after the event; then the delivery is Failed. Errors and logs
name the webhook by scheme and host only.
"""
from __future__ import annotations

import http.client
import logging
from datetime import timedelta
from urllib.parse import urlsplit

from shared.app_context import AppContext
from shared.clock import to_iso, utcnow
from shared.errors import CertsyncError
from shared.model import Delivery, DeliveryStatus, Operation
from shared.notify.events import attempt_of
from shared.notify.payloads import render
from shared.notify.targets import WebhookTarget
from shared.operations import new_operation_id, submit

log = logging.getLogger("certsync.notify")
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
TIMEOUT_SECONDS = 15


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def run_delivery(ctx: AppContext, op: Operation) -> dict:
    delivery = ctx.deliveries.get(op.target)
    if delivery.status is not DeliveryStatus.PENDING:
        return {"skipped": f"the delivery is {delivery.status.value} already"}
    if delivery.operation != op.id:
        return {"skipped": f"operation {delivery.operation} makes the next attempt"}
    target = next((t for t in ctx.settings.webhooks if t.key == delivery.target_key), None)
    error = send(target, delivery) if target else "the webhook is no longer configured (WEBHOOK_URL)"
    delivery.attempts += 1
    if error is None:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, utcnow(), None
        delivery.last_error = ""
        ctx.deliveries.save(delivery)  # lost to a concurrent attempt: raised, redelivered, then skipped
        log.info("delivery %s to %s succeeded (attempt %d)", delivery.id, delivery.webhook, delivery.attempts)
        return {"status": DeliveryStatus.SUCCEEDED.value, "attempts": delivery.attempts}
    delivery.last_error = error
    return _after_failure(ctx, delivery, target is not None)


def _after_failure(ctx: AppContext, delivery: Delivery, configured: bool) -> dict:
    now, wait = utcnow(), backoff(delivery.attempts)
    cutoff = (delivery.created_at or now) + timedelta(hours=ctx.settings.webhook_cutoff_hours)
    if not configured or now + wait > cutoff:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        ctx.deliveries.save(delivery)
        log.warning("delivery %s to %s failed for good: %s", delivery.id, delivery.webhook, delivery.last_error)
        raise CertsyncError(
            f"delivery {delivery.id} to {delivery.webhook} failed after {delivery.attempts} attempt(s): "
            f"{delivery.last_error}",
            code="DeliveryFailed",
        )
    nxt = _next_attempt(delivery)
    delivery.next_attempt_at = now + wait
    ctx.deliveries.save(delivery)  # the row names the next attempt before it is queued
    submit(ctx, nxt, int(wait.total_seconds()))  # failing: the watch queues it later (resume_stalled)
    log.info("delivery %s to %s: %s; attempt %d at %s", delivery.id, delivery.webhook, delivery.last_error,
             delivery.attempts + 1, to_iso(delivery.next_attempt_at))
    raise CertsyncError(
        f"attempt {delivery.attempts} to {delivery.webhook}: {delivery.last_error}; next attempt is operation "
        f"{nxt.id} at {to_iso(delivery.next_attempt_at)}",
        code="DeliveryRetrying",
    )


def _next_attempt(delivery: Delivery) -> Operation:
    op = attempt_of(delivery)
    op.id = delivery.operation = new_operation_id()
    return op


def send(target: WebhookTarget, delivery: Delivery) -> str | None:
    """POST the delivery's event; None on a 2xx, else what went wrong, without the URL.
    http.client, not requests: urllib3 logs each request's path at DEBUG, and the path is the secret."""
    body, content_type = render(target.format, delivery.payload)
    headers = {"Content-Type": content_type, "Idempotency-Key": delivery.event_id, "User-Agent": "certsync"}
    parts = urlsplit(target.url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers)
        status = connection.getresponse().status  # redirects are not followed: a 3xx is a failure
    except (OSError, http.client.HTTPException) as err:  # its text may name the URL: only its type is kept
        return f"no answer ({type(err).__name__})"
    finally:
        connection.close()
    return None if 200 <= status < 300 else f"HTTP {status}"
