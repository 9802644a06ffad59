"""Operations whose record was written but whose queue message never was (the instance died in
between): the sweep timer's repair queues them again, or closes them as Abandoned when even
that message is lost; a redelivered renewal finds its follow-up sync instead of queueing another."""
from __future__ import annotations

import contextlib
from datetime import timedelta

from shared.clock import utcnow
from shared.lifecycle import start_renewal
from shared.model import Operation, OperationKind, OperationStatus
from shared.operations import STRANDED_AFTER, new_operation, repair_stranded, submit
from shared.sync.handlers import start_link_sync
from tests.fakes.context import Fakes, deliver_one, drain
from tests.service.conftest import WorkerCrashed, issued, linked_and_bound

LATER = STRANDED_AFTER + timedelta(minutes=11)  # past the bound with the default 300 s jitter


def _crash_after_recording(fakes: Fakes, kind: OperationKind) -> None:
    def crash(*_: object) -> None:
        raise WorkerCrashed("between the record and the queue message")

    fakes.hooks.on("after:operations.add", crash, when=lambda op: op.kind is kind)


def _stranded_link_sync(fakes: Fakes) -> Operation:
    linked_and_bound(fakes, issued(fakes, "shop"), "shop-link")
    _crash_after_recording(fakes, OperationKind.SYNC_LINK)
    with contextlib.suppress(WorkerCrashed):
        start_link_sync(fakes.ctx, "shop-link")
    [op] = fakes.ctx.operations.list(kind=OperationKind.SYNC_LINK.value)
    assert op.status is OperationStatus.QUEUED and not fakes.queue.messages
    return op


def test_an_operation_never_queued_is_queued_again_and_runs(fakes: Fakes) -> None:
    op = _stranded_link_sync(fakes)

    repaired = repair_stranded(fakes.ctx, now=utcnow() + LATER)
    drain(fakes)

    assert repaired == {"requeued": [op.id], "abandoned": []}
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.SUCCEEDED


def test_a_young_queued_operation_is_left_to_its_message(fakes: Fakes) -> None:
    op = _stranded_link_sync(fakes)

    assert repair_stranded(fakes.ctx, now=utcnow() + timedelta(minutes=5)) == {"requeued": [], "abandoned": []}
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.QUEUED and not fakes.queue.messages


def test_one_whose_second_message_is_lost_too_is_closed_as_abandoned(fakes: Fakes) -> None:
    op = _stranded_link_sync(fakes)
    first = utcnow() + LATER
    repair_stranded(fakes.ctx, now=first)
    fakes.queue.messages.clear()  # lost again

    assert repair_stranded(fakes.ctx, now=first + timedelta(minutes=5)) == {"requeued": [], "abandoned": []}
    repaired = repair_stranded(fakes.ctx, now=first + LATER)

    closed = fakes.ctx.operations.get(op.id)
    assert repaired == {"requeued": [], "abandoned": [op.id]}
    assert (closed.status, closed.error_code) == (OperationStatus.FAILED, "Abandoned")


def test_an_operation_older_than_the_lookback_is_not_read(fakes: Fakes) -> None:
    _stranded_link_sync(fakes)

    assert repair_stranded(fakes.ctx, now=utcnow() + timedelta(days=2)) == {"requeued": [], "abandoned": []}


def test_a_redelivered_renewal_queues_its_follow_up_sync_once(fakes: Fakes) -> None:
    linked_and_bound(fakes, issued(fakes, "shop"), "shop-link")
    renewal = start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    _crash_after_recording(fakes, OperationKind.SYNC_CERTIFICATE)

    with contextlib.suppress(WorkerCrashed):  # the renewal's delivery dies after recording the sync
        deliver_one(fakes)
    drain(fakes)  # the renewal's message comes back

    syncs = fakes.ctx.operations.list(target="shop", kind=OperationKind.SYNC_CERTIFICATE.value)
    assert [(s.status, s.parameters.get("trigger")) for s in syncs] == [(OperationStatus.SUCCEEDED, "renewal")]
    done = fakes.ctx.operations.get(renewal.id)
    assert done.status is OperationStatus.SUCCEEDED and done.result["syncOperation"] == syncs[0].id


def test_an_operation_queued_with_a_long_delay_is_not_taken_for_a_lost_one(fakes: Fakes) -> None:
    """A webhook retry waits up to an hour in the queue: the repair leaves it to its message
    until its delay and the bound have run out."""
    issued(fakes, "shop")
    op = submit(fakes.ctx, new_operation(OperationKind.SYNC_CERTIFICATE, "shop"), delay_seconds=3600)

    waiting = utcnow() + LATER
    assert repair_stranded(fakes.ctx, now=waiting) == {"requeued": [], "abandoned": []}
    fakes.queue.messages.clear()  # now lost after all
    late = utcnow() + timedelta(hours=1) + LATER
    assert repair_stranded(fakes.ctx, now=late) == {"requeued": [op.id], "abandoned": []}
