"""The seed's experiences in a browser: create a certificate, link and bind it, see a link fall
out of sync when a new version lands in Key Vault (and how its thumbprint differs), sync it,
renew and rekey with progress and history, export through the dialog."""
from __future__ import annotations

import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from playwright.sync_api import expect

from tests.browser.pages import certificate_row, history_rows, link_row, open_overview, ready, shoot, vault_thumbprint
from tests.integration.helpers import upload_new_version


def create_certificate(api, name: str, hostnames: list[str], **extra) -> dict:
    op = api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": hostnames, **extra}))
    assert op["status"] == "Succeeded", op
    return api.call("GET", f"certificates/{name}").json()


def every_certificate(api) -> list[dict]:
    """The whole list, page after page (other tests' certificates share the stack)."""
    items, url = [], f"{api.base}/api/certificates?$top=100"
    while url:
        body = api.http.get(url, timeout=30).json()
        items, url = items + body["value"], body.get("nextLink")
    return items


def test_create_link_bind_then_sync_an_out_of_sync_link(page, dashboard, api, secret_client, host_ctx, unique, screenshots):
    name = f"shop-{unique}"
    hosts = [f"{name}.example.com", f"*.{name}.example.com"]
    # Neighbours in the list: one renewing by hand only, one close to expiry.
    create_certificate(api, f"api-{unique}", [f"api-{unique}.example.com"], keyType="EC256", autoRenew=False)
    create_certificate(api, f"legacy-{unique}", [f"legacy-{unique}.example.net"], keyType="EC256", validityDays=10)
    page.goto(dashboard)
    ready(page, "certificates")

    # Create through the form and watch the operation finish.
    page.locator("summary", has_text="New certificate").click()
    form = page.locator("details.create form")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Hostnames", exact=True).fill("\n".join(hosts))
    form.get_by_label("Key type").select_option("EC256")
    form.get_by_label("Validity (days)").fill("90")
    form.get_by_role("button", name="Create certificate").click()
    progress = page.locator(".progress .op").first
    expect(progress).to_contain_text(f"Issue {name}")
    expect(progress).to_have_attribute("data-status", "Succeeded", timeout=60_000)
    page.get_by_label("Filter certificates").fill(name)  # other tests' certificates may fill page 1
    row = certificate_row(page, name)
    expect(row).to_contain_text("Issued")
    expect(row).to_contain_text("89 days left")
    expect(row).to_contain_text("no links")

    # Link it and bind a hostname, through the overview.
    row.get_by_role("link", name=name).click()
    ready(page, "overview")
    page.locator("summary", has_text="Link this certificate").click()
    page.get_by_label("Link name").fill(f"{name}-link")
    page.get_by_label("Scope (resource group)").fill("rg-shop")
    page.get_by_role("button", name="Create link").click()
    link = link_row(page, f"{name}-link")
    expect(link).to_have_attribute("data-in-sync", "true")
    link.locator("summary", has_text="Bind a hostname").click()
    link.get_by_label("App", exact=True).fill(f"web-{unique}")
    link.get_by_label("Hostname", exact=True).fill(hosts[0])
    link.get_by_role("button", name="Bind", exact=True).click()
    expect(link.locator("ul.bindings li")).to_have_count(1)
    expect(link.locator("ul.bindings")).to_contain_text(f"web-{unique}")
    sync_all = page.locator("#sync-all")
    expect(sync_all).to_be_disabled()
    expect(link).to_contain_text("In sync")
    held = link.locator("code.thumbprint").first.inner_text()
    assert held == api.call("GET", f"certificates/{name}").json()["thumbprint"]
    page.locator("nav.main").get_by_role("link", name="Certificates", exact=True).click()
    ready(page, "certificates")
    shoot(page, screenshots, "certificates-list")
    page.get_by_label("Filter certificates").fill(name)
    expect(certificate_row(page, name)).to_contain_text("0 of 1")
    page.go_back()
    ready(page, "overview")

    # Someone writes a new PFX version into Key Vault outside certsync.
    bundle = upload_new_version(secret_client, f"cert-{name}", hosts, host_ctx)
    page.reload()
    ready(page, "overview")
    # The page read that version live: the link that does not hold it is out of sync, held vs current.
    link = link_row(page, f"{name}-link")
    expect(link).to_have_attribute("data-in-sync", "false")
    expect(link).to_contain_text("Out of sync")
    was, now = link.locator(".thumbs.differs > div").nth(0), link.locator(".thumbs.differs > div").nth(1)
    expect(was).to_contain_text(held)
    expect(now).to_contain_text(bundle.thumbprint)
    assert link.locator("mark.was").count() > 0 and link.locator("mark.now").count() > 0
    differing = sum(a != b for a, b in zip(held, bundle.thumbprint, strict=True))
    expect(link).to_contain_text(f"{differing} of 40 characters differ")
    expect(page.locator("h1 .badge")).to_contain_text(["Issued", "Links out of sync"])
    expect(page.locator("#sync-state")).to_have_text("1 of 1 linked certificate(s) out of sync.")
    expect(sync_all).to_be_enabled()
    page.locator("nav.main").get_by_role("link", name="Certificates", exact=True).click()
    ready(page, "certificates")
    page.get_by_label("Filter certificates").fill(name)
    expect(certificate_row(page, name)).to_contain_text("1 of 1")  # the same number as the overview
    summary = next(c for c in every_certificate(api) if c["name"] == name)
    assert summary["outOfSyncLinks"] == 1
    page.go_back()
    ready(page, "overview")
    link = link_row(page, f"{name}-link")
    shoot(page, screenshots, "overview-out-of-sync")

    # Sync: the link and its binding move to the new thumbprint; the button goes back to disabled.
    sync_all.click()
    expect(link).to_have_attribute("data-in-sync", "true", timeout=60_000)
    expect(sync_all).to_be_disabled()
    expect(link.locator("code.thumbprint").first).to_have_text(bundle.thumbprint)
    expect(page.locator("#sync-state")).to_have_text("All 1 linked certificate(s) in sync.")
    expect(history_rows(page).filter(has_text="Sync").first).to_contain_text("Succeeded")
    binding = api.call("GET", f"apps/web-{unique}/bindings").json()["value"][0]
    assert binding["thumbprint"] == bundle.thumbprint
    shoot(page, screenshots, "overview-in-sync")

    page.locator("nav.main").get_by_role("link", name="Certificates", exact=True).click()
    ready(page, "certificates")
    page.get_by_label("Filter certificates").fill(name)
    # The list counts as the overview does, from table data only.
    summary = next(c for c in every_certificate(api) if c["name"] == name)
    assert summary["outOfSyncLinks"] == 0
    expect(certificate_row(page, name)).to_contain_text("0 of 1")
    expect(certificate_row(page, f"legacy-{unique}")).to_have_count(0)
    page.get_by_label("Filter certificates").fill(f"legacy-{unique}")
    expect(certificate_row(page, f"legacy-{unique}")).to_contain_text("9 days left")


def test_renew_and_rekey_show_progress_and_survive_navigating_away(page, dashboard, api, unique):
    name = f"renew-{unique}"
    cert = create_certificate(api, name, [f"{name}.example.com"], keyType="EC256")
    assert api.call("POST", "links", {"name": f"{name}-link", "certificate": name}).status_code == 201
    open_overview(page, dashboard, name)
    assert vault_thumbprint(page) == cert["thumbprint"]

    page.get_by_role("button", name="Renew", exact=True).click()
    progress = page.locator(".progress .op").first
    expect(progress).to_contain_text(f"Renew {name}")
    # Leave at once and come back: the result and the history are there.
    page.locator("nav.main").get_by_role("link", name="Certificates", exact=True).click()
    ready(page, "certificates")
    page.go_back()
    ready(page, "overview")
    renew_row = history_rows(page).filter(has_text="Renew").first
    expect(renew_row).to_contain_text("Succeeded", timeout=60_000)
    renewed = api.call("GET", f"certificates/{name}").json()
    assert renewed["thumbprint"] != cert["thumbprint"]
    expect(page.locator("dl.facts")).to_contain_text(renewed["thumbprint"])
    expect(renew_row).to_contain_text(renewed["thumbprint"])
    # AUTO_SYNC_AFTER_RENEWAL: the link follows on its own, and the page shows it.
    link = link_row(page, f"{name}-link")
    expect(link).to_have_attribute("data-in-sync", "true", timeout=60_000)
    expect(link.locator("code.thumbprint").first).to_have_text(renewed["thumbprint"])

    page.get_by_label("Key type for rekey").select_option("RSA2048")
    page.get_by_role("button", name="Rekey", exact=True).click()
    rekey_row = history_rows(page).filter(has_text="Rekey").first
    expect(rekey_row).to_contain_text("Succeeded", timeout=60_000)
    expect(page.locator("dl.facts")).to_contain_text("RSA2048")
    rekeyed = api.call("GET", f"certificates/{name}").json()
    assert rekeyed["keyType"] == "RSA2048" and rekeyed["thumbprint"] != renewed["thumbprint"]
    expect(page.locator("dl.facts")).to_contain_text(rekeyed["thumbprint"])
    kinds = [op["kind"] for op in api.call("GET", f"operations?target={name}").json()["value"]]  # newest first
    assert kinds[-3:] == ["syncCertificate", "renew", "issue"]


def test_export_dialog_checks_the_password_and_downloads_the_file(page, dashboard, api, unique, screenshots):
    name = f"export-{unique}"
    cert = create_certificate(api, name, [f"{name}.example.com"], keyType="EC256")
    open_overview(page, dashboard, name)
    exports: list[str] = []
    page.on("request", lambda r: exports.append(r.url) if r.url.endswith("/export") else None)

    # Keyboard only: focus the button, Enter opens the dialog with the password field focused.
    page.get_by_role("button", name="Export…").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog.export")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Password", exact=True)).to_be_focused()
    expect(dialog.get_by_label("Include the private key (PEM)")).to_be_disabled()

    page.keyboard.type("too-short")
    dialog.get_by_label("Confirm password").fill("too-short")
    dialog.get_by_role("button", name="Download").click()
    expect(dialog.locator("p.error")).to_have_text("The password must be at least 12 characters (it has 9).")
    password = "correct horse battery staple"
    dialog.get_by_label("Password", exact=True).fill(password)
    dialog.get_by_label("Confirm password").fill(password + "!")
    dialog.get_by_role("button", name="Download").click()
    expect(dialog.locator("p.error")).to_have_text("The two passwords do not match.")
    assert exports == [], "nothing is sent before the passwords are right"

    dialog.get_by_label("Confirm password").fill(password)
    expect(dialog.locator("p.error")).to_have_count(0)
    page.screenshot(path=str(screenshots / "export-dialog.png"))  # the viewport: the backdrop covers it
    with page.expect_download() as download_info:
        dialog.get_by_role("button", name="Download").click()
    download = download_info.value
    assert download.suggested_filename == f"{name}-{cert['thumbprint'][:8]}.pfx"
    key, leaf, chain = pkcs12.load_key_and_certificates(open(download.path(), "rb").read(), password.encode())
    assert leaf.fingerprint(hashes.SHA1()).hex().upper() == cert["thumbprint"]
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    expect(dialog).to_be_hidden()
    expect(page.locator("p.notice")).to_have_text(f"Downloaded {download.suggested_filename}.")

    # PEM without the key: no password needed, nothing secret in the file.
    page.get_by_role("button", name="Export…").click()
    dialog.get_by_label(re.compile("^PEM")).check()
    dialog.get_by_label("Include the private key (PEM)").uncheck()
    expect(dialog.get_by_label("Password", exact=True)).to_be_disabled()
    expect(dialog.get_by_label(re.compile("^Legacy encryption"))).to_be_disabled()
    with page.expect_download() as download_info:
        dialog.get_by_role("button", name="Download").click()
    pem = open(download_info.value.path(), "rb").read()
    assert download_info.value.suggested_filename.endswith(".pem")
    assert b"PRIVATE KEY" not in pem
    first = x509.load_pem_x509_certificates(pem)[0]
    assert first.fingerprint(hashes.SHA1()).hex().upper() == cert["thumbprint"]

    # Legacy PFX for old Windows: still opens with the password. Escape closes the dialog.
    page.get_by_role("button", name="Export…").click()
    dialog.get_by_label(re.compile("^Legacy encryption")).check()
    dialog.get_by_label("Password", exact=True).fill(password)
    dialog.get_by_label("Confirm password").fill(password)
    with page.expect_download() as download_info:
        dialog.get_by_role("button", name="Download").click()
    pkcs12.load_key_and_certificates(open(download_info.value.path(), "rb").read(), password.encode())
    page.get_by_role("button", name="Export…").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    history = [op["kind"] for op in api.call("GET", f"operations?target={name}&kind=export").json()["value"]]
    assert history == ["export", "export", "export"]


def test_revoke_asks_for_a_reason_and_a_confirmation_then_shows_the_revoked_version(page, dashboard, api, unique):
    name = f"revoke-{unique}"
    before = create_certificate(api, name, [f"{name}.example.com"], keyType="EC256")
    open_overview(page, dashboard, name)

    reasons = page.get_by_label("Reason for revoke")
    options = reasons.locator("option").all_inner_texts()
    assert "key compromise" in options and "privilege withdrawn" in options  # the local CA's reasons
    reasons.select_option("superseded")
    revoke = page.get_by_role("button", name="Revoke the current version")
    revoke.click()
    assert api.call("GET", f"certificates/{name}").json()["revokedVersions"] == []  # one click only arms it
    page.get_by_role("button", name="Confirm revoke: Revoke the current version").click()

    revoke_row = history_rows(page).filter(has_text="Revoke").first
    expect(revoke_row).to_contain_text("Succeeded", timeout=60_000)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Revoked versions")
    expect(facts.locator("ul.revoked")).to_contain_text(before["thumbprint"])
    expect(facts.locator("ul.revoked")).to_contain_text("superseded")
    after = api.call("GET", f"certificates/{name}").json()
    assert [r["thumbprint"] for r in after["revokedVersions"]] == [before["thumbprint"]]
    rekey_row = history_rows(page).filter(has_text="Rekey").first
    expect(rekey_row).to_contain_text("Succeeded", timeout=60_000)  # auto-renew on: a new certificate follows
