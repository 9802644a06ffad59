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
from shared.errors import CertsyncError, DependencyError, IssuerError, NotFound
from shared.model import Operation, OperationKind, OperationStatus

log = logging.getLogger("certsync.operations")
Handler = Callable[[AppContext, Operation], dict]
STALE_AFTER = timedelta(minutes=15)  # longer than functionTimeout (10 min): a Running op this old died
MAX_ATTEMPTS = 5  # host.json extensions.queues.maxDequeueCount
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


def operation_age(op_id: str) -> timedelta:
    """How old an operation is, from the time its id encodes (inverted milliseconds)."""
    try:
        created_ms = 10**13 - 1 - int(op_id.split("-", 1)[0])
    except ValueError:
        return STALE_AFTER
    return timedelta(milliseconds=time.time() * 1000 - created_ms)


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
    """Record, then enqueue. When the enqueue fails the operation is closed as Failed at once,
    so no claim waits on it; auto_renew resumes a first issuance left behind."""
    ctx.operations.add(op)
    try:
        ctx.queue.enqueue(op.id, delay_seconds=delay_seconds)
    except CertsyncError as err:
        _fail(op, err.code, err.message)
        op.updated_at = utcnow()
        ctx.operations.save(op)
        raise
    return op


def is_active(op: Operation, now=None) -> bool:
    if op.status not in (OperationStatus.QUEUED, OperationStatus.RUNNING):
        return False
    now = now or utcnow()
    return op.updated_at is None or now - op.updated_at < STALE_AFTER


def run_operation(ctx: AppContext, op_id: str, attempt: int = 1, max_attempts: int = MAX_ATTEMPTS) -> Operation | None:
    """Run one operation to a final state; a finished one is left alone (queue redelivery).

    A Key Vault or Table outage (not a CA's answer) raises out before the last attempt, so the
    host redelivers the message; on the last attempt every failure is recorded on the operation.
    """
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
    final = op.final_attempt = attempt >= max_attempts
    try:
        op.result = handler(ctx, op) or {}
        op.status = OperationStatus.SUCCEEDED
    except DependencyError as err:
        if not final and not isinstance(err, IssuerError):
            log.warning("operation %s attempt %d: %s; the host will retry", op.id, attempt, err.code)
            raise
        _fail(op, err.code, err.message)
    except CertsyncError as err:
        _fail(op, err.code, err.message)
    except Exception as err:  # noqa: BLE001 - record it on the last attempt, never leave it Running
        if not final:
            raise
        log.error("operation %s failed unexpectedly: %s", op.id, type(err).__name__)
        _fail(op, "InternalError", "an unexpected error occurred; see the function logs")
    op.updated_at = utcnow()
    return ctx.operations.save(op)


def _fail(op: Operation, code: str, message: str) -> None:
    op.status, op.error_code, op.error_message = OperationStatus.FAILED, code, message
    log.info("operation %s (%s %s) failed: %s", op.id, op.kind.value, op.target, code)


def abandon(ctx: AppContext, op_id: str, reason: str) -> None:
    """Close an operation whose work was taken over, so the history does not show it running."""
    try:
        op = ctx.operations.get(op_id)
        if op.status in (OperationStatus.QUEUED, OperationStatus.RUNNING):
            _fail(op, "Abandoned", reason)
            op.updated_at = utcnow()
            ctx.operations.save(op)
    except CertsyncError:
        pass  # best effort: the new operation matters, not the old record


def finish_now(ctx: AppContext, op: Operation, result: dict) -> Operation:
    """Record an operation that ran inline (an export), so it shows in the history."""
    op.status, op.result, op.updated_at = OperationStatus.SUCCEEDED, result, utcnow()
    return ctx.operations.add(op)
