"""The dashboard at scale: 1,000 linked certificates on one certificate and 1,000 certificates.
Rows are written straight into the host's tables (prefix certsync) through the repositories, so
setting up takes seconds, and removed afterwards. The render times are printed, not asserted
tightly: they depend on the machine."""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect

from shared.clock import utcnow
from shared.model import Certificate, CertificateStatus, LinkedCertificate, SslBinding
from tests.browser.pages import FUNCTION_KEY, ready

LINKS = 1000
CERTIFICATES = 1000
STALE_EVERY = 10  # one link in ten holds an old thumbprint


def in_parallel(fn, items) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fn, items))


@pytest.fixture
def certificate_with_1000_links(api, host_ctx, unique):
    name = f"big-{unique}"
    hosts = [f"{name}.example.com", f"*.{name}.example.com"]
    op = api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": hosts, "keyType": "EC256"}))
    assert op["status"] == "Succeeded", op
    cert = api.call("GET", f"certificates/{name}").json()
    now = utcnow()
    links, bindings = [], []
    for i in range(LINKS):
        stale = i % STALE_EVERY == 0
        link = LinkedCertificate(
            name=f"{name}-{i:04d}",
            scope=f"rg-{i % 7}",
            secret_id=cert["keyVaultSecretId"],
            certificate=name,
            thumbprint=os.urandom(20).hex().upper() if stale else cert["thumbprint"],
            version=os.urandom(16).hex() if stale else cert["keyVaultSecretVersion"],
            hostnames=tuple(hosts),
            last_synced_at=now - timedelta(days=3 if stale else 0),
            last_checked_at=now,
        )
        links.append(link)
        bindings.append(SslBinding(f"app-{unique}-{i % 25}", f"h{i:04d}.{name}.example.com", link.name, link.thumbprint, updated_at=now))
    host_ctx.links.find("warm-up")  # opens the table clients before the threads share them
    host_ctx.bindings.find("warm-up", "warm-up.example.com")
    started = time.perf_counter()
    in_parallel(host_ctx.links.add, links)
    in_parallel(host_ctx.bindings.add, bindings)
    print(f"\nwrote {LINKS} links and {LINKS} bindings in {time.perf_counter() - started:.1f} s")
    yield name
    in_parallel(host_ctx.bindings.delete, bindings)
    in_parallel(host_ctx.links.delete, links)


@pytest.fixture
def thousand_certificates(host_ctx, unique):
    now = utcnow()
    certs = [
        Certificate(
            name=f"bulk-{unique}-{i:04d}",
            hostnames=(f"b{i:04d}-{unique}.example.com",),
            key_type="RSA2048",
            issuer="local",
            status=CertificateStatus.ISSUED,
            secret_name=f"cert-bulk-{unique}-{i:04d}",
            secret_version=os.urandom(16).hex(),
            thumbprint=os.urandom(20).hex().upper(),
            not_before=now - timedelta(days=30),
            not_after=now + timedelta(days=(i % 400) - 20),
            renewal_due_at=now + timedelta(days=(i % 400) - 50),
            auto_renew=i % 3 != 0,
            created_at=now,
        )
        for i in range(CERTIFICATES)
    ]
    host_ctx.certificates.find("warm-up")
    in_parallel(host_ctx.certificates.add, certs)
    yield f"bulk-{unique}"
    in_parallel(host_ctx.certificates.delete, certs)


def test_overview_with_1000_links_shows_them_a_page_at_a_time(page, stack, dashboard, certificate_with_1000_links):
    name = certificate_with_1000_links
    api_started = time.perf_counter()
    overview = requests.get(f"{stack.app_url}/api/certificates/{name}", headers={"x-functions-key": FUNCTION_KEY},
                            timeout=60).json()
    api_ms = (time.perf_counter() - api_started) * 1000
    assert len(overview["linkedCertificates"]) == LINKS

    started = time.perf_counter()
    page.goto(f"{dashboard}#/certificates/{name}")
    ready(page, "overview")
    wall_ms = (time.perf_counter() - started) * 1000
    in_page_ms = int(page.locator("main").get_attribute("data-render-ms"))
    print(
        f"\noverview with {LINKS} links: {in_page_ms} ms from route to rendered (API calls included), "
        f"{wall_ms:.0f} ms from navigation (page load included); the API alone answers in {api_ms:.0f} ms"
    )
    assert in_page_ms < 30_000

    rows = page.locator("[data-name='links'] tbody tr")
    expect(rows).to_have_count(50)
    links = page.locator("[data-name='links']")
    expect(links.locator(".count")).to_have_text(f"Showing 1–50 of {LINKS}")
    stale = LINKS // STALE_EVERY
    expect(page.locator("#sync-state")).to_have_text(f"{stale} of {LINKS} linked certificate(s) out of sync.")
    expect(rows.first).to_have_attribute("data-in-sync", "false")  # out-of-sync links come first
    expect(page.locator("#sync-all")).to_be_enabled()

    started = time.perf_counter()
    links.get_by_role("button", name="Next page").click()
    expect(links.locator(".count")).to_have_text(f"Showing 51–100 of {LINKS}")
    print(f"next page of links: {(time.perf_counter() - started) * 1000:.0f} ms")

    links.get_by_label("Filter linked certificates").fill(f"{name}-0777")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-key", f"{name}-0777")
    expect(links.locator(".count")).to_have_text(f"Showing 1–1 of 1 (filtered from {LINKS})")
    links.get_by_label("Filter linked certificates").fill("")
    links.get_by_label("Only out of sync").check()
    expect(links.locator(".count")).to_have_text(f"Showing 1–50 of {stale} (filtered from {LINKS})")
    links.get_by_role("button", name="Next page").click()
    expect(links.locator(".count")).to_have_text(f"Showing 51–{stale} of {stale} (filtered from {LINKS})")
    expect(links.get_by_role("button", name="Next page")).to_be_disabled()
    assert page.locator("tr[data-in-sync='true']").count() == 0


def test_list_with_1000_certificates_shows_them_a_page_at_a_time(page, dashboard, thousand_certificates):
    prefix = thousand_certificates
    started = time.perf_counter()
    page.goto(dashboard)
    ready(page, "certificates")
    wall_ms = (time.perf_counter() - started) * 1000
    in_page_ms = int(page.locator("main").get_attribute("data-render-ms"))
    total = page.evaluate("document.querySelector('[data-name=certificates] .count').textContent")
    print(f"\ncertificate list ({total}): {in_page_ms} ms from route to rendered, {wall_ms:.0f} ms from navigation")
    rows = page.locator("[data-name='certificates'] tbody tr")
    expect(rows).to_have_count(50)
    page.get_by_label("Filter certificates").fill(prefix)
    expect(page.locator("[data-name='certificates'] .count")).to_contain_text(f"Showing 1–50 of {CERTIFICATES} (filtered from")
    expect(page.get_by_text("Page 1 of 20")).to_be_visible()
    page.get_by_label("Filter certificates").fill(f"{prefix}-0019")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("expired 1 day ago")
    assert FUNCTION_KEY in page.url
