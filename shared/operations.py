"""Operations: background work with a record a person can come back to.

`submit` writes the record and enqueues its id. The queue trigger hands each delivery to
`OperationEngine.run`, which runs the handler registered for the operation's kind (the
composition root registers them, explicitly) and records the outcome. Handlers raise
CertsyncError for expected failures; the message is stored, never a stack trace.
`shared.errors.classify` decides whether a failure goes back to the host for redelivery.
"""
from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import telemetry
from shared.app_context import AppContext
from shared.certificate_states import STALE_AFTER, claim_alive
from shared.clock import epoch_ms, utcnow
from shared.errors import CertsyncError, Conflict, NotFound, Retry, classify
from shared.logs import operation_context
from shared.model import Operation, OperationKind, OperationStatus

log = logging.getLogger("certsync.operations")
Handler = Callable[[AppContext, Operation], dict]
FINISHED = (OperationStatus.SUCCEEDED, OperationStatus.FAILED)
# A Queued operation older than this (plus the largest enqueue delay, the auto-renew jitter) has
# lost its queue message: a queued message is taken within seconds, and the engine marks it Running.
STRANDED_AFTER = timedelta(minutes=15)
STRANDED_LOOKBACK = timedelta(days=1)  # how far back the repair looks (a RowKey range, not the table)
DELAY_PARAMETER = "queuedWithDelaySeconds"  # on the record of an operation queued with a visibility delay


def new_operation_id() -> str:
    """Sorts newest first in Table Storage (inverted milliseconds), unique by a random suffix."""
    return f"{id_prefix(utcnow())}-{uuid.uuid4().hex[:12]}"


def derived_operation_id(parent_id: str, purpose: str) -> str:
    """The id of the one operation `parent_id` queues for `purpose` (a renewal's follow-up sync):
    the same on every redelivery of the parent, so a redelivery never queues a second one. It
    sorts one millisecond newer than its parent, so the history lists it above the parent."""
    digest = hashlib.sha256(f"{parent_id}/{purpose}".encode()).hexdigest()[:12]
    inverted = int(parent_id.split("-", 1)[0])
    return f"{max(inverted - 1, 0):013d}-{digest}"


def id_prefix(moment: datetime) -> str:
    """Ids of operations created at `moment` start with this; later ones sort before it."""
    return f"{10**13 - 1 - epoch_ms(moment):013d}"


def operation_age(op_id: str, now: datetime | None = None) -> timedelta:
    """How old an operation is, from the time its id encodes (inverted milliseconds)."""
    try:
        created_ms = 10**13 - 1 - int(op_id.split("-", 1)[0])
    except ValueError:
        return STALE_AFTER
    return timedelta(milliseconds=epoch_ms(now or utcnow()) - created_ms)


def new_operation(
    kind: OperationKind, target: str, parameters: dict | None = None, requested_by: str = ""
) -> Operation:
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


def submit(
    ctx: AppContext, op: Operation, delay_seconds: int = 0, *, write_target: Callable[[], object] | None = None
) -> Operation:
    """Record, then enqueue. When the enqueue fails the operation is closed as Failed at once,
    so no claim waits on it; auto_renew resumes a first issuance left behind. A delay is kept on
    the record so the stranded-operation repair does not take a message still waiting for its
    visibility time (a webhook retry's backoff) for a lost one.

    `write_target` writes the row the operation works on (a new certificate) between the record
    and the message, so a crash after it leaves a Queued record that repair_stranded queues
    again. When it raises, the record is taken back (best effort: one left behind fails on its
    target's own check when the repair runs it)."""
    if delay_seconds > 0:
        op.parameters[DELAY_PARAMETER] = delay_seconds
    with telemetry.operation_span(f"queue {op.kind.value}", op.id, op.kind.value, producer=True):
        ctx.operations.add(op)
        if write_target is not None:
            _write_target_or_discard(ctx, op, write_target)
        try:
            ctx.queue.enqueue(op.id, delay_seconds=delay_seconds, trace=telemetry.trace_context())
        except CertsyncError as err:
            _close_unqueued(ctx, op, err)
            raise
    return op


def _write_target_or_discard(ctx: AppContext, op: Operation, write_target: Callable[[], object]) -> None:
    try:
        write_target()
    except Exception:
        with suppress(CertsyncError):
            ctx.operations.delete(op)
        raise


def submit_once(ctx: AppContext, op: Operation) -> Operation:
    """Submit an operation whose id is derived (derived_operation_id). If a redelivery of its
    parent recorded it before, enqueue that one again while it is still Queued (the enqueue may
    be what the parent's last delivery never did; a message too many is ignored once it ran)."""
    try:
        return submit(ctx, op)
    except Conflict:
        existing = ctx.operations.get(op.id)
    return enqueue_if_queued(ctx, existing)


def enqueue_if_queued(ctx: AppContext, op: Operation) -> Operation:
    """Enqueue a still-Queued operation once more: its message may be what a crash lost, and a
    message too many is ignored once the operation ran."""
    if op.status is OperationStatus.QUEUED:
        ctx.queue.enqueue(op.id, trace=telemetry.trace_context())
    return op


def repair_stranded(ctx: AppContext, now: datetime | None = None) -> dict[str, list[str]]:
    """Queued operations whose queue message is evidently gone (an instance died between writing
    the record and enqueueing it): enqueue each once more; one still Queued a bound after that is
    closed as Abandoned. Found by a RowKey range over the last STRANDED_LOOKBACK, never the table."""
    now = now or utcnow()
    bound = STRANDED_AFTER + timedelta(seconds=ctx.settings.auto_renew_jitter_seconds)
    first, last = id_prefix(now - bound), id_prefix(now - STRANDED_LOOKBACK) + "~"
    repaired: dict[str, list[str]] = {"requeued": [], "abandoned": []}
    for op in ctx.operations.queued_between(first, last):
        if op.updated_at is not None and now - op.updated_at < bound:
            continue  # enqueued again lately: give that message its time
        if now - _visible_from(op) < bound:
            continue  # queued with a delay that has not run out (plus the bound) yet
        try:
            repaired[_requeue_or_abandon(ctx, op, now)].append(op.id)
        except CertsyncError as err:  # another instance repaired it first, or an outage: next run
            log.warning("could not repair stranded operation %s: %s", op.id, err.code)
    return repaired


def _visible_from(op: Operation) -> datetime:
    """When the operation's first message became visible: its creation plus the delay it was queued with."""
    created = op.created_at or utcnow()
    delay = op.parameters.get(DELAY_PARAMETER, 0)
    return created + timedelta(seconds=delay if isinstance(delay, int) else 0)


def _requeue_or_abandon(ctx: AppContext, op: Operation, now: datetime) -> str:
    """The record is written first (ETag: one repairer wins); updated_at marks the one re-enqueue."""
    requeued_before = op.updated_at is not None and op.created_at is not None and op.updated_at > op.created_at
    if requeued_before:
        _fail(op, "Abandoned", "its queue message was lost twice; start it again if it is still wanted")
    op.updated_at = now
    ctx.operations.save(op)
    if requeued_before:
        return "abandoned"
    log.info("operation %s (%s %s) was never queued; queueing it again", op.id, op.kind.value, op.target)
    ctx.queue.enqueue(op.id, trace=telemetry.trace_context())
    return "requeued"


def _close_unqueued(ctx: AppContext, op: Operation, err: CertsyncError) -> None:
    _fail(op, err.code, err.message)
    op.updated_at = utcnow()
    ctx.operations.save(op)


def is_active(op: Operation, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return claim_alive(op.status, op.updated_at, op.created_at or now, now)


@dataclass(frozen=True)
class OperationEngine:
    """Runs one queue delivery of an operation to a final state.

    `last_delivery` is host.json's extensions.queues.maxDequeueCount, read at start: a Key
    Vault or Table outage raises out before that delivery so the host redelivers the message;
    on the last delivery every failure is recorded on the operation.
    """

    handlers: Mapping[OperationKind, Handler]
    last_delivery: int

    def run(
        self, ctx: AppContext, op_id: str, delivery: int = 1, trace: Mapping[str, str] | None = None
    ) -> Operation | None:
        """One delivery, in a span that continues the trace of the request that queued it."""
        with operation_context(op_id), telemetry.operation_span("run operation", op_id, carrier=trace) as span:
            try:
                op = ctx.operations.get(op_id)
            except NotFound:
                log.warning("operation %s not found; message dropped", op_id)
                return None
            if op.status in FINISHED:
                return op  # a redelivery of finished work: leave it alone
            span.set_attribute(telemetry.OPERATION_KIND, op.kind.value)
            op.status, op.updated_at = OperationStatus.RUNNING, utcnow()
            ctx.operations.save(op)
            op.final_attempt = delivery >= self.last_delivery
            started, outcome = time.perf_counter(), "Redelivered"
            try:
                saved = self._handle(ctx, op, delivery)
                outcome = saved.status.value
                span.set_attribute("certsync.operation.outcome", outcome)
                return saved
            finally:  # certsync_operations_total and _duration_seconds, by kind and outcome
                telemetry.instruments().record_operation(op.kind.value, outcome, time.perf_counter() - started)

    def _handle(self, ctx: AppContext, op: Operation, delivery: int) -> Operation:
        try:
            op.result = self._handler_for(op)(ctx, op) or {}
            op.status = OperationStatus.SUCCEEDED
        except Exception as err:
            self._record_error(op, err, delivery)
        op.updated_at = utcnow()
        return ctx.operations.save(op)

    def _handler_for(self, op: Operation) -> Handler:
        handler = self.handlers.get(op.kind)
        if handler is None:
            raise CertsyncError(f"no handler is registered for operations of kind {op.kind.value}", code="NoHandler")
        return handler

    def _record_error(self, op: Operation, err: Exception, delivery: int) -> None:
        if classify(err) is Retry.REDELIVER and not op.final_attempt:
            log.warning("operation %s delivery %d: %s; the host will redeliver", op.id, delivery, _code_of(err))
            raise err
        if isinstance(err, CertsyncError):
            _fail(op, err.code, err.message)
            return
        log.error("operation %s failed unexpectedly", op.id, exc_info=err)
        _fail(op, "InternalError", "an unexpected error occurred; see the function logs")


def _code_of(err: Exception) -> str:
    return err.code if isinstance(err, CertsyncError) else type(err).__name__


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
