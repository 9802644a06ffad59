"""Retention: finished operations and deliveries past OPERATION_RETENTION_DAYS are deleted, a page
at a time, each with the ETag it was read with; never a Queued or Running one, never what a
certificate still shows (its newest operation, its active one), never a younger one."""
from __future__ import annotations

from datetime import timedelta

from shared.clock import utcnow
from shared.model import Delivery, DeliveryStatus, Operation, OperationKind, OperationStatus
from shared.notify.events import event_id
from shared.operations import new_operation
from shared.retention import PAGE, prune_history
from shared.sync.handlers import start_certificate_sync
from tests.fakes.context import Fakes, drain, fake_context
from tests.service.conftest import issued

LATER = timedelta(days=31)  # past the default 30 days


def _old(fakes: Fakes, target: str, status: OperationStatus, kind: OperationKind = OperationKind.SWEEP) -> Operation:
    op = new_operation(kind, target)
    op.status = status
    return fakes.ctx.operations.add(op)


def _delivery(fakes: Fakes, n: int, status: DeliveryStatus) -> Delivery:
    at = utcnow()
    return fakes.ctx.deliveries.add(
        Delivery(id=f"{event_id(at, str(n))}-hook", event_id=event_id(at, str(n)), event_type="certificate.renewed",
                 subject="shop", webhook="https://hooks.example.com", target_key="hook", payload={}, status=status)
    )


def _ids(fakes: Fakes) -> set[str]:
    return {op.id for op in fakes.ctx.operations.list(limit=10_000)}


def test_finished_operations_past_retention_go_and_running_ones_stay(fakes: Fakes) -> None:
    done = [_old(fakes, "bindings", s) for s in (OperationStatus.SUCCEEDED, OperationStatus.FAILED)]
    busy = [_old(fakes, "bindings", s) for s in (OperationStatus.QUEUED, OperationStatus.RUNNING)]

    report = prune_history(fakes.ctx, now=utcnow() + LATER)

    assert report.operations_deleted == 2 and report.complete
    assert _ids(fakes) == {op.id for op in busy} and not {op.id for op in done} & _ids(fakes)


def test_nothing_younger_than_the_retention_is_touched(fakes: Fakes) -> None:
    _old(fakes, "bindings", OperationStatus.SUCCEEDED)

    assert prune_history(fakes.ctx, now=utcnow() + timedelta(days=29)).operations_deleted == 0
    assert len(_ids(fakes)) == 1


def test_the_setting_moves_the_cutoff() -> None:
    fakes = fake_context(OPERATION_RETENTION_DAYS="2")
    _old(fakes, "bindings", OperationStatus.SUCCEEDED)

    assert prune_history(fakes.ctx, now=utcnow() + timedelta(days=3)).operations_deleted == 1


def test_a_certificate_keeps_its_newest_operation(fakes: Fakes) -> None:
    issued(fakes, "shop")
    start_certificate_sync(fakes.ctx, "shop")
    drain(fakes)
    [newest, first] = fakes.ctx.operations.list(target="shop")

    report = prune_history(fakes.ctx, now=utcnow() + LATER)

    assert [op.id for op in fakes.ctx.operations.list(target="shop")] == [newest.id]
    assert report.kept == 1 and first.id not in _ids(fakes)


def test_a_certificates_active_operation_stays_even_when_finished(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    [creation] = fakes.ctx.operations.list(target="shop")
    newer = _old(fakes, "shop", OperationStatus.SUCCEEDED, OperationKind.SYNC_CERTIFICATE)
    cert.active_operation = creation.id  # what the overview shows as activeOperation
    fakes.ctx.certificates.save(cert)

    prune_history(fakes.ctx, now=utcnow() + LATER)

    assert {op.id for op in fakes.ctx.operations.list(target="shop")} == {creation.id, newer.id}


def test_a_row_changed_after_it_was_read_is_kept(fakes: Fakes) -> None:
    op = _old(fakes, "bindings", OperationStatus.FAILED)

    def touched(*_: object) -> None:
        fresh = fakes.ctx.operations.get(op.id)
        fresh.error_message = "changed meanwhile"
        fakes.ctx.operations.save(fresh)

    fakes.hooks.on("before:operations.delete", touched)
    report = prune_history(fakes.ctx, now=utcnow() + LATER)

    assert report.operations_deleted == 0 and report.kept == 1 and _ids(fakes) == {op.id}


def test_many_pages_are_deleted_in_one_run(fakes: Fakes) -> None:
    for n in range(PAGE * 2 + 7):
        _old(fakes, f"delivery-{n}", OperationStatus.SUCCEEDED, OperationKind.DELIVER_WEBHOOK)

    report = prune_history(fakes.ctx, now=utcnow() + LATER)

    assert report.operations_deleted == PAGE * 2 + 7 and not _ids(fakes)


def test_a_run_out_of_time_says_so_and_the_next_one_goes_on(fakes: Fakes) -> None:
    _old(fakes, "bindings", OperationStatus.SUCCEEDED)

    assert not prune_history(fakes.ctx, now=utcnow() + LATER, budget_seconds=0).complete
    assert prune_history(fakes.ctx, now=utcnow() + LATER).operations_deleted == 1


def test_finished_deliveries_past_retention_go_and_pending_ones_stay(fakes: Fakes) -> None:
    pending = _delivery(fakes, 1, DeliveryStatus.PENDING)
    for n, status in enumerate((DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED), start=2):
        _delivery(fakes, n, status)

    report = prune_history(fakes.ctx, now=utcnow() + LATER)

    assert report.deliveries_deleted == 2
    assert [d.id for d in fakes.ctx.deliveries.list()] == [pending.id]
