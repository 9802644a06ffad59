"""Retention against Azurite: old finished operations go with their index rows (target and kind),
a page at a time, and the operations list of a certificate still pages through what is left."""
from __future__ import annotations

from datetime import timedelta

from shared.app_context import AppContext
from shared.clock import utcnow
from shared.lifecycle import NewCertificate, create_certificate
from shared.model import Delivery, DeliveryStatus, OperationKind, OperationStatus
from shared.notify.events import event_id
from shared.operations import new_operation
from shared.pki import KeyType
from shared.retention import PAGE, prune_history
from shared.tables import KIND_INDEX, TARGET_INDEX

LATER = timedelta(days=31)


def _partitions(ctx: AppContext) -> dict[str, int]:
    """Rows per kind of partition in the operations table, read raw."""
    counts = {"operation": 0, TARGET_INDEX: 0, KIND_INDEX: 0}
    for row in ctx.store.table("operations").list_entities():  # type: ignore[attr-defined]
        key = next((p for p in (TARGET_INDEX, KIND_INDEX) if row["PartitionKey"].startswith(p)), row["PartitionKey"])
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_old_finished_operations_go_with_their_index_rows(ctx: AppContext) -> None:
    create_certificate(ctx, NewCertificate(name="shop", hostnames=("shop.example.com",), key_type=KeyType.EC256))
    for n in range(PAGE + 20):
        op = new_operation(OperationKind.DELIVER_WEBHOOK, f"delivery-{n}")
        op.status = OperationStatus.SUCCEEDED if n % 2 else OperationStatus.FAILED
        ctx.operations.add(op)
    running = new_operation(OperationKind.SWEEP, "bindings")
    running.status = OperationStatus.RUNNING
    ctx.operations.add(running)
    at = utcnow()
    for n, status in enumerate((DeliveryStatus.SUCCEEDED, DeliveryStatus.PENDING)):
        ctx.deliveries.add(Delivery(id=f"{event_id(at, str(n))}-hook", event_id=event_id(at, str(n)),
                                    event_type="certificate.renewed", subject="shop", webhook="https://h.example.com",
                                    target_key="hook", payload={}, status=status))
    assert _partitions(ctx) == {"operation": PAGE + 22, TARGET_INDEX: PAGE + 22, KIND_INDEX: PAGE + 22}

    report = prune_history(ctx, now=utcnow() + LATER)

    assert (report.operations_deleted, report.deliveries_deleted, report.complete) == (PAGE + 20, 1, True)
    left = {"operation": 2, TARGET_INDEX: 2, KIND_INDEX: 2, "~meta": 1}  # the Queued issue, the Running sweep; the marker
    assert _partitions(ctx) == left
    assert [op.kind for op in ctx.operations.list(target="shop")] == [OperationKind.ISSUE]
    assert [d.status for d in ctx.deliveries.list()] == [DeliveryStatus.PENDING]


def test_a_certificates_newest_operation_survives_retention(ctx: AppContext) -> None:
    ops = [new_operation(OperationKind.SYNC_CERTIFICATE, "shop") for _ in range(3)]
    for op in ops:
        op.status = OperationStatus.SUCCEEDED
        ctx.operations.add(op)
    create_certificate(ctx, NewCertificate(name="shop", hostnames=("shop.example.com",), key_type=KeyType.EC256))
    issue = ctx.operations.list(target="shop", kind=OperationKind.ISSUE.value)[0]
    issue.status = OperationStatus.SUCCEEDED
    ctx.operations.save(issue)
    cert = ctx.certificates.get("shop")
    cert.active_operation = ""
    ctx.certificates.save(cert)

    prune_history(ctx, now=utcnow() + LATER)

    assert [op.id for op in ctx.operations.list(target="shop")] == [issue.id]


def test_rows_from_before_the_index_are_found_before_and_after_the_backfill(ctx: AppContext) -> None:
    table = ctx.store.table("operations")  # type: ignore[attr-defined]
    old = [new_operation(OperationKind.RENEW, "shop" if n % 2 else "other") for n in range(PAGE + 50)]
    for op in old:  # as the code before the index wrote them: the row alone
        table.create_entity({"PartitionKey": "operation", "RowKey": op.id, "Kind": op.kind.value, "Target": op.target,
                             "Status": "Succeeded", "Parameters": "{}", "Result": "{}"})
    shop = sorted(op.id for op in old if op.target == "shop")
    assert [op.id for op in ctx.operations.list(target="shop", limit=1000)] == shop  # the filtered scan, as before

    assert not ctx.operations.backfill_index(0)  # out of time after its first 100 rows: a cursor says where
    assert ctx.operations.backfill_index(60)

    assert _partitions(ctx)[TARGET_INDEX] == PAGE + 50
    assert [op.id for op in ctx.operations.list(target="shop", limit=1000)] == shop
    first = ctx.operations.page(10, target="shop")
    second = ctx.operations.page(10, first.next_token, target="shop")
    assert [op.id for op in first.items + second.items] == shop[:20]


def test_an_entry_left_behind_a_final_save_is_read_through_its_row(ctx: AppContext) -> None:
    assert ctx.operations.backfill_index(60)
    op = ctx.operations.add(new_operation(OperationKind.RENEW, "shop"))
    op.status = OperationStatus.SUCCEEDED
    ctx.operations.save(op)
    table = ctx.store.table("operations")  # type: ignore[attr-defined]
    [entry] = [e for e in table.list_entities() if e["PartitionKey"].startswith(TARGET_INDEX)]
    entry["Status"] = "Running"  # as if the instance died between the final save and its copy
    table.upsert_entity(entry)

    assert [o.status for o in ctx.operations.list(target="shop")] == [OperationStatus.SUCCEEDED]
