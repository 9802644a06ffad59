"""Operations: background work with a record a person can come back to.

start_operation writes the record and enqueues it; run_operation (called by the queue
trigger) runs the handler for its kind and records the outcome. Handlers raise
CertsyncError for expected failures; the message is stored, never a stack trace.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Callable

from shared.app_context import AppContext
from shared.clock import utcnow
from shared.errors import CertsyncError, NotFound
from shared.model import Operation, OperationKind, OperationStatus

log = logging.getLogger("certsync.operations")
Handler = Callable[[AppContext, Operation], dict]
STALE_AFTER = timedelta(minutes=15)  # longer than functionTimeout (10 min): a Running op this old died
_handlers: dict[OperationKind, Handler] = {}


def handles(kind: OperationKind) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn

    return register


def new_operation_id() -> str:
    """Sorts newest first in Table Storage (inverted milliseconds), unique by a random suffix."""
    inverted = 10**13 - 1 - int(time.time() * 1000)
    return f"{inverted:013d}-{uuid.uuid4().hex[:12]}"


def new_operation(kind: OperationKind, target: str, parameters: dict | None = None, requested_by: str = "") -> Operation:
    now = utcnow()
    return Operation(
        id=new_operation_id(),
        kind=kind,
        target=target,
        created_at=now,
        updated_at=now,
        parameters=dict(parameters or {}),
        requested_by=requested_by,
    )


def submit(ctx: AppContext, op: Operation, delay_seconds: int = 0) -> Operation:
    """Record, then enqueue. If the enqueue is lost, the stale claim expires and the next
    auto-renew run (or a person) starts the work again."""
    ctx.operations.add(op)
    ctx.queue.enqueue(op.id, delay_seconds=delay_seconds)
    return op


def is_active(op: Operation, now=None) -> bool:
    if op.status not in (OperationStatus.QUEUED, OperationStatus.RUNNING):
        return False
    now = now or utcnow()
    return op.updated_at is None or now - op.updated_at < STALE_AFTER


def run_operation(ctx: AppContext, op_id: str) -> Operation | None:
    """Run one operation to a final state; a finished one is left alone (queue redelivery)."""
    try:
        op = ctx.operations.get(op_id)
    except NotFound:
        log.warning("operation %s not found; message dropped", op_id)
        return None
    if op.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED):
        return op
    op.status, op.updated_at = OperationStatus.RUNNING, utcnow()
    ctx.operations.save(op)
    handler = _handlers[op.kind]
    try:
        op.result = handler(ctx, op) or {}
        op.status = OperationStatus.SUCCEEDED
    except CertsyncError as err:
        op.status, op.error_code, op.error_message = OperationStatus.FAILED, err.code, err.message
        log.info("operation %s (%s %s) failed: %s", op.id, op.kind.value, op.target, err.code)
    op.updated_at = utcnow()
    return ctx.operations.save(op)


def finish_now(ctx: AppContext, op: Operation, result: dict) -> Operation:
    """Record an operation that ran inline (an export), so it shows in the history."""
    op.status, op.result, op.updated_at = OperationStatus.SUCCEEDED, result, utcnow()
    return ctx.operations.add(op)
