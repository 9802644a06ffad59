"""The dashboard as a new user opens it: in a phone-sized window (WCAG reflow: 320 CSS px, no sideways
scrolling of the page), and with an auxiliary API call failing (said where its result would be)."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.pages import open_overview, ready

VIEWS = [("", "certificates"), ("#/links", "links"), ("#/health", "health")]


@pytest.mark.parametrize("width", [360, 320])
def test_no_view_scrolls_sideways_in_a_narrow_window(page, dashboard, api, unique, width):
    name = f"narrow-{unique}"
    created = api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]})
    assert api.wait_operation(created)["status"] == "Succeeded"
    page.set_viewport_size({"width": width, "height": 740})

    widths = {}
    for route, view in VIEWS:
        page.goto(dashboard + route)
        ready(page, view)
        widths[view] = page.evaluate("document.documentElement.scrollWidth")
    open_overview(page, dashboard, name)
    widths["overview"] = page.evaluate("document.documentElement.scrollWidth")

    assert widths == dict.fromkeys(widths, width)
    expect(page.get_by_role("link", name="Health")).to_be_in_viewport()


LONG = "the certificate resource could not be imported: " + "x" * 120  # an unbroken token, as URLs and ids are
ATTENTION = {
    "expiringSoon": [{"certificate": "shop", "notAfter": "2030-01-01T00:00:00Z", "autoRenew": False,
                      "renewalDueAt": None, "status": "Issued"}],
    "failingRenewals": [{"certificate": "shop", "failureCount": 3, "lastError": LONG, "nextAttemptAt": None}],
    "linksOutOfSync": [{"link": "shop-link", "certificate": "shop", "syncState": "Failed", "lastSyncError": LONG,
                        "outOfSyncSince": "2030-01-01T00:00:00Z"}],
    "failedOperations": [{"target": "shop", "kind": "renew", "error": {"code": "ArmConflict", "message": LONG},
                          "updatedAt": "2030-01-01T00:00:00Z"}],
    "failedDeliveries": [{"subject": "shop", "eventType": "certificate.renewed", "webhook": "https://hooks.example.com",
                          "attempts": 5, "lastError": LONG}],
}


def test_a_health_view_full_of_items_does_not_scroll_sideways(page, dashboard):
    body = json.dumps(ATTENTION)
    page.route("**/api/attention", lambda route: route.fulfill(content_type="application/json", body=body))
    page.set_viewport_size({"width": 320, "height": 740})

    page.goto(dashboard + "#/health")
    ready(page, "health")

    assert page.locator("table").count() == 5
    assert page.evaluate("document.documentElement.scrollWidth") == 320


def test_a_failing_secret_link_is_said_not_swallowed(page, dashboard, api, unique):
    name = f"nolink-{unique}"
    created = api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]})
    assert api.wait_operation(created)["status"] == "Succeeded"
    failure = {"error": {"code": "KeyVaultUnavailable", "message": "Key Vault did not answer"}}
    page.route(
        f"**/api/certificates/{name}/secret",
        lambda route: route.fulfill(status=503, content_type="application/json", body=json.dumps(failure)),
    )

    open_overview(page, dashboard, name)

    expect(page.locator(".secret-link [role=alert]")).to_contain_text("KeyVaultUnavailable Key Vault did not answer")
