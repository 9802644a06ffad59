"""The DeliveryStore port (webhook deliveries) against the fake and Azurite."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.errors import Conflict, NotFound, PreconditionFailed
from shared.model import Delivery, DeliveryStatus
from tests.contract.conftest import Side

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def delivery(delivery_id: str, status: DeliveryStatus = DeliveryStatus.PENDING) -> Delivery:
    return Delivery(
        id=delivery_id, event_id=delivery_id.rsplit("-", 1)[0], event_type="certificate.renewed", subject="shop",
        webhook="https://hooks.slack.com", target_key="abcd1234", payload={"id": "e", "data": {"n": 1}},
        status=status, attempts=2, last_error="HTTP 500", operation="op", created_at=T0, next_attempt_at=T0,
    )


def test_delivery_round_trip_insert_once_and_not_found(side: Side, unique: str) -> None:
    store = side.ctx.deliveries
    store.add(delivery(f"1{unique}-e-k"))
    assert store.get(f"1{unique}-e-k") == delivery(f"1{unique}-e-k")
    with pytest.raises(Conflict):
        store.add(delivery(f"1{unique}-e-k"))  # the same event for the same webhook: recorded once
    with pytest.raises(NotFound) as caught:
        store.get(f"9{unique}-e-k")
    assert caught.value.code == "DeliveryNotFound"


def test_delivery_save_needs_the_current_etag(side: Side, unique: str) -> None:
    store = side.ctx.deliveries
    stale = store.add(delivery(f"1{unique}-e-k"))
    fresh = store.get(f"1{unique}-e-k")
    fresh.status, fresh.delivered_at = DeliveryStatus.SUCCEEDED, T0
    store.save(fresh)
    stale.attempts = 3
    with pytest.raises(PreconditionFailed):
        store.save(stale)
    assert store.get(f"1{unique}-e-k").status is DeliveryStatus.SUCCEEDED


def test_deliveries_page_and_list_by_status_in_id_order(side: Side, unique: str) -> None:
    store = side.ctx.deliveries
    for n, status in ((2, DeliveryStatus.FAILED), (1, DeliveryStatus.FAILED), (3, DeliveryStatus.PENDING)):
        store.add(delivery(f"0000{unique}{n}-e-k", status))
    failed = [d.id for d in store.list(status="Failed", limit=1000) if unique in d.id]
    assert failed == [f"0000{unique}1-e-k", f"0000{unique}2-e-k"]
    first = store.page(1, status="Failed")
    assert len(first.items) == 1 and first.next_token


def test_finished_deliveries_after_an_id_and_an_etag_checked_delete(side: Side, unique: str) -> None:
    store = side.ctx.deliveries
    for n, status in enumerate([DeliveryStatus.SUCCEEDED, DeliveryStatus.PENDING, DeliveryStatus.FAILED]):
        store.add(delivery(f"z{unique}{n}-e-k", status))
    found = store.finished_after(f"z{unique}", 10)
    assert [d.id for d in found] == [f"z{unique}0-e-k", f"z{unique}2-e-k"]
    stale, fresh = found[0], store.get(found[0].id)
    fresh.attempts = 9
    store.save(fresh)
    with pytest.raises(PreconditionFailed):
        store.delete(stale)
    store.delete(fresh)
    assert [d.id for d in store.finished_after(f"z{unique}", 10)] == [f"z{unique}2-e-k"]
