"""How the dashboard is served (a whitelist of files, strict headers, the function key passed
on), the links page, the auto-renew switch, and API errors shown exactly as the API words them."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import expect

from functions.dashboard import ASSETS, FOLDER
from tests.browser.pages import FUNCTION_KEY, certificate_row, open_overview, ready

CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def test_every_dashboard_file_is_whitelisted_and_nothing_else():
    on_disk = sorted(p.name for p in Path(FOLDER).iterdir() if p.is_file())
    assert sorted(ASSETS) == on_disk


@pytest.mark.parametrize("path", ["dashboard", *(f"dashboard/{name}" for name in ASSETS)])
def test_files_are_served_with_their_type_and_strict_headers(stack, path):
    response = requests.get(f"{stack.app_url}/api/{path}", params={"code": FUNCTION_KEY}, timeout=10)
    assert response.status_code == 200, response.text
    suffix = Path(path).suffix or ".html"
    assert response.headers["Content-Type"].startswith(CONTENT_TYPES[suffix])
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'self'; script-src 'self'")
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "name",
    ["..%2Ffunction_app.py", "..%2F..%2Fhost.json", "%2e%2e%2fhost.json", "..", "index.htm", "app.js.map", "APP.JS",
     "README.md", "dashboard.py", "%2Fetc%2Fpasswd"],
)
def test_nothing_outside_the_whitelist_is_served(stack, name):
    response = requests.get(f"{stack.app_url}/api/dashboard/{name}", params={"code": FUNCTION_KEY}, timeout=10)
    assert response.status_code == 404
    assert "root:" not in response.text and "import" not in response.text


def test_the_page_hands_the_key_to_its_files_and_the_api(stack, page, dashboard, api, unique):
    name = f"keyed-{unique}"
    assert api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]}))["status"] == "Succeeded"
    seen: list = []
    page.on("request", lambda request: seen.append(request))
    response = page.goto(dashboard)
    policy = response.headers["content-security-policy"]
    assert "'sha256-" in policy, "the import map that carries the key is allowed by its hash only"
    ready(page, "certificates")
    page.get_by_label("Filter certificates").fill(name)
    certificate_row(page, name).get_by_role("link", name=name).click()
    ready(page, "overview")
    expect(page.get_by_role("link", name="Open Key Vault secret")).to_have_attribute("href", f"{stack.vault_url}/secrets/cert-{name}")

    ours = [r for r in seen if r.url.startswith(stack.app_url)]
    assets = [r for r in ours if urlsplit(r.url).path.startswith("/api/dashboard")]
    calls = [r for r in ours if r not in assets]
    assert {Path(urlsplit(r.url).path).name for r in assets} >= {"app.js", "api.js", "app.css", "overview-view.js"}
    assert all(f"code={FUNCTION_KEY}" in r.url for r in assets), [r.url for r in assets]
    assert {urlsplit(r.url).path for r in calls} >= {"/api/certificates", f"/api/certificates/{name}", "/api/operations"}
    assert all(r.headers.get("x-functions-key") == FUNCTION_KEY for r in calls), [r.url for r in calls]
    assert all(FUNCTION_KEY not in r.url for r in calls), "the API gets the key in a header, not in its URL"
    assert not [r.url for r in seen if not r.url.startswith((stack.app_url, "blob:", "data:"))], "nothing from elsewhere"


def test_auto_renew_switch_changes_the_certificate(page, dashboard, api, unique):
    name = f"switch-{unique}"
    assert api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]}))["status"] == "Succeeded"
    page.goto(dashboard)
    ready(page, "certificates")
    page.get_by_label("Filter certificates").fill(name)
    switch = page.get_by_role("switch", name=f"Auto-renew {name}")
    expect(switch).to_be_checked()
    switch.click()
    expect(page.locator("p.notice")).to_have_text(f"Auto-renew is off for {name}.")
    assert api.call("GET", f"certificates/{name}").json()["autoRenew"] is False
    page.keyboard.press("Space")  # the switch keeps the focus
    expect(page.locator("p.notice")).to_have_text(f"Auto-renew is on for {name}.")
    assert api.call("GET", f"certificates/{name}").json()["autoRenew"] is True


def test_links_page_creates_from_a_secret_id_and_shows_api_errors_as_worded(page, dashboard, api, unique):
    name = f"links-{unique}"
    assert api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]}))["status"] == "Succeeded"
    secret_id = api.call("GET", f"certificates/{name}").json()["keyVaultSecretId"]
    link = f"{name}-kv"

    page.goto(f"{dashboard}#/links")
    ready(page, "links")
    page.locator("summary", has_text="New linked certificate").click()
    page.get_by_label("a Key Vault secret id").check()
    page.get_by_label("Link name").fill(link)
    page.get_by_label("Scope (resource group)").fill("rg-links")
    page.get_by_label("Key Vault secret id", exact=True).fill(secret_id)
    page.get_by_role("button", name="Create link").click()
    expect(page.locator("p.notice")).to_contain_text(f"Linked certificate {link} created")
    page.get_by_label("Filter linked certificates").fill(link)
    row = page.locator(f"tr[data-key='{link}']")
    expect(row).to_contain_text("rg-links")
    expect(row).to_contain_text(secret_id)

    # The same link name again: the API's 409, worded as the API words it.
    page.get_by_label("a Key Vault secret id").check()
    page.get_by_label("Link name").fill(link)
    page.get_by_label("Key Vault secret id", exact=True).fill(secret_id)
    page.get_by_role("button", name="Create link").click()
    exists = api.call("POST", "links", {"name": link, "keyVaultSecretId": secret_id}).json()["error"]
    expect(page.locator("details.create p.error")).to_have_text(f"{exists['code']} {exists['message']}")

    row.get_by_role("link", name=link).click()
    ready(page, "link")
    page.locator("summary", has_text="Bind a hostname").click()
    page.get_by_label("App", exact=True).fill(f"app-{unique}")
    page.get_by_label("Hostname", exact=True).fill(f"other-{unique}.example.org")
    page.get_by_role("button", name="Bind", exact=True).click()
    refused = api.call("PUT", f"apps/app-{unique}/bindings/other-{unique}.example.org", {"link": link}).json()["error"]
    assert refused["code"] == "HostnameNotCovered"
    expect(page.locator(".bindings-editor p.error")).to_have_text(f"{refused['code']} {refused['message']}")

    page.get_by_label("Hostname", exact=True).fill(f"{name}.example.com")
    page.get_by_role("button", name="Bind", exact=True).click()
    expect(page.locator("ul.bindings li")).to_have_count(1)
    expect(page.locator("ul.bindings")).to_contain_text(f"{name}.example.com")

    # Removing a link that a binding uses: refused by the API, and said so.
    page.goto(f"{dashboard}#/certificates/{name}")
    ready(page, "overview")
    row = page.locator(f"[data-name='links'] tr[data-key='{link}']")
    remove_link = row.get_by_role("button", name=f"Remove linked certificate {link}")
    remove_link.click()
    row.get_by_role("button", name=f"Confirm remove: Remove linked certificate {link}").click()
    in_use = api.call("DELETE", f"links/{link}").json()["error"]
    assert in_use["code"] == "LinkInUse"
    expect(row.locator("p.error")).to_have_text(f"{in_use['code']} {in_use['message']}")

    # Remove the binding, then the link.
    row.get_by_role("button", name=f"Remove binding {name}.example.com in app-{unique}").click()
    row.get_by_role("button", name=f"Confirm remove: Remove binding {name}.example.com in app-{unique}").click()
    expect(row.locator("ul.bindings li")).to_have_count(0)
    row.get_by_role("button", name=f"Remove linked certificate {link}").click()
    row.get_by_role("button", name=f"Confirm remove: Remove linked certificate {link}").click()
    expect(page.locator("p.notice")).to_have_text(f"Removed linked certificate {link}.")
    expect(page.locator(f"[data-name='links'] tr[data-key='{link}']")).to_have_count(0)
    assert api.call("GET", f"links/{link}").status_code == 404


def test_keyboard_reaches_the_actions_with_a_visible_focus(page, dashboard, api, unique):
    name = f"keys-{unique}"
    assert api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]}))["status"] == "Succeeded"
    open_overview(page, dashboard, name)
    page.locator("h1").focus()
    names = []
    for _ in range(40):  # every stop of the Tab order, to the end of the page
        page.keyboard.press("Tab")
        tag, text = page.evaluate("[document.activeElement.tagName, document.activeElement.textContent.trim()]")
        if tag == "BODY":
            break
        names.append(text)
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", f"no visible focus on {tag} {text[:40]!r}"
    assert {"Renew", "Rekey", "Export…", "Open Key Vault secret", "Link this certificate to an app"} <= set(names)
    assert "Sync all links" not in names, "a disabled Sync is skipped by the keyboard"


def test_a_certificate_created_into_the_second_vault_shows_its_vault(page, dashboard, api, second_vault, unique):
    name = f"vault-b-{unique}"
    default = f"vault-a-{unique}"
    assert api.wait_operation(api.call("POST", "certificates", {"name": default, "hostnames": [f"{default}.example.com"],
                                                                "keyType": "EC256"}))["status"] == "Succeeded"
    page.goto(dashboard)
    ready(page, "certificates")

    page.locator("summary", has_text="New certificate").click()
    form = page.locator("details.create form")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Hostnames", exact=True).fill(f"{name}.example.com")
    form.get_by_label("Key type").select_option("EC256")
    form.get_by_label("Key Vault").fill("second")
    form.get_by_role("button", name="Create certificate").click()
    expect(page.locator(".progress .op").first).to_have_attribute("data-status", "Succeeded", timeout=60_000)

    host_b = second_vault.url.removeprefix("https://")
    page.get_by_label("Filter certificates").fill(unique)
    expect(certificate_row(page, name).locator("td.vault")).to_have_text(host_b)
    expect(certificate_row(page, default).locator("td.vault")).not_to_have_text(host_b)
    assert api.call("GET", f"certificates/{name}").json()["vault"] == second_vault.url
    open_overview(page, dashboard, name)
    expect(page.locator("dl.facts dt:text-is('Key Vault') + dd code")).to_have_text(host_b)
