"""The dashboard's Health page: each kind of item that needs attention, linked to its certificate."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from shared.clock import utcnow
from shared.model import Delivery, DeliveryStatus, OperationKind, OperationStatus
from shared.operations import new_operation
from tests.browser.pages import ready, shoot


def test_health_page_lists_what_needs_attention_and_links_to_the_certificate(
    page, dashboard, api, host_ctx, unique, screenshots
):
    name = f"pay-{unique}"
    created = api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"],
                                                "keyType": "EC256", "validityDays": 7})
    assert api.wait_operation(created)["status"] == "Succeeded"
    assert api.call("POST", "links", {"name": f"{name}-link", "scope": "rg-pay", "certificate": name}).status_code == 201
    cert = host_ctx.certificates.get(name)  # a renewal that keeps failing, as the issuer left it
    cert.failure_count, cert.last_error = 3, "IssuerFailed: the CA answered 429 rateLimited"
    cert.renewal_due_at = utcnow() + timedelta(hours=4)
    host_ctx.certificates.save(cert)
    link = host_ctx.links.get(f"{name}-link")  # still on an older version
    link.thumbprint, link.version = "0" * 40, "older"
    link.secret_updated_on = cert.secret_updated_on - timedelta(days=1)
    host_ctx.links.save(link)
    op = new_operation(OperationKind.RENEW, name)
    op.status, op.error_code, op.error_message = OperationStatus.FAILED, "IssuerFailed", "the CA answered 429"
    host_ctx.operations.add(op)
    host_ctx.deliveries.add(Delivery(
        f"{op.id[:13]}-{unique}", f"e-{unique}", "certificate.renewalFailed", name, "https://hooks.slack.com", "k", {},
        status=DeliveryStatus.FAILED, attempts=12, last_error="HTTP 500", created_at=utcnow(),
    ))

    page.goto(f"{dashboard}#/health")
    ready(page, "health")
    expect(page.locator("nav.main a[data-nav='health']")).to_be_visible()
    for section in ("expiring", "failing", "out-of-sync", "failed-operations", "failed-deliveries"):
        expect(page.locator(f"table[data-name='{section}']")).to_contain_text(name)
    failing = page.locator("table[data-name='failing'] tr", has_text=name)
    expect(failing).to_contain_text("IssuerFailed: the CA answered 429 rateLimited")
    expect(failing).to_contain_text("3")
    expect(page.locator("table[data-name='failed-deliveries'] tr", has_text=name)).to_contain_text("HTTP 500")
    expect(page.locator("table[data-name='out-of-sync'] tr", has_text=name)).to_contain_text(f"{name}-link")
    shoot(page, screenshots, "health-view")

    failing.get_by_role("link", name=name).click()
    ready(page, "overview")
    expect(page.locator("h1")).to_contain_text(name)
