"""The health view's read model on the fakes: each kind of item, and nothing for a healthy fleet."""
from __future__ import annotations

from datetime import timedelta

from shared.attention import needs_attention
from shared.clock import utcnow
from shared.model import Delivery, DeliveryStatus, OperationKind, OperationStatus
from shared.operations import new_operation
from tests.fakes.context import Fakes, drain
from tests.service.conftest import issued, linked_and_bound


def test_a_healthy_certificate_needs_no_attention(fakes: Fakes):
    cert = issued(fakes, "fine")
    linked_and_bound(fakes, cert, "fine-link")
    drain(fakes)
    found = needs_attention(fakes.ctx)
    assert (found.expiring, found.failing_renewals, found.out_of_sync) == ([], [], [])
    assert (found.failed_operations, found.failed_deliveries) == ([], [])


def test_each_kind_of_item_names_its_certificate(fakes: Fakes):
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link")
    drain(fakes)
    failing = fakes.ctx.certificates.get("shop")
    failing.failure_count, failing.last_error = 2, "IssuerFailed: rate limited"
    failing.renewal_due_at = utcnow() + timedelta(hours=2)
    fakes.ctx.certificates.save(failing)
    behind = fakes.ctx.links.get("shop-link")
    behind.thumbprint, behind.version = "0" * 40, "old"
    fakes.ctx.links.save(behind)
    op = new_operation(OperationKind.RENEW, "shop")
    op.status, op.error_code = OperationStatus.FAILED, "IssuerFailed"
    fakes.ctx.operations.add(op)
    attempt = new_operation(OperationKind.DELIVER_WEBHOOK, "x")
    attempt.status = OperationStatus.FAILED
    fakes.ctx.operations.add(attempt)
    fakes.ctx.deliveries.add(Delivery("d1", "e1", "certificate.renewed", "shop", "https://hooks.slack.com", "k", {},
                                      status=DeliveryStatus.FAILED, attempts=9, last_error="HTTP 500"))
    found = needs_attention(fakes.ctx, utcnow() + timedelta(days=360))  # within 14 days of notAfter
    assert [c.name for c in found.expiring] == ["shop"]
    assert [c.name for c in found.failing_renewals] == ["shop"]
    assert [(o.state.link.name, o.certificate) for o in found.out_of_sync] == [("shop-link", "shop")]
    assert [o.id for o in found.failed_operations] == [op.id]  # webhook attempts: shown as deliveries
    assert [d.id for d in found.failed_deliveries] == ["d1"]
