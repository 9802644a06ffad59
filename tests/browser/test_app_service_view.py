"""App Service on the dashboard: after linking a certificate to an app through ARM (the ARM
emulator), the overview shows the certificate resource (resource group, name, server farm,
keyVaultSecretStatus) and every binding on the site and its slot, with the thumbprint each
serves; a version written outside certsync shows them behind, with the difference marked, until
a sync moves them in ARM."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import AppServicePlan, Site, SkuDescription
from playwright.sync_api import expect

from devtools.arm_emulator import start_emulator
from tests.arm_host import arm_host
from tests.browser.conftest import write_browser_keys
from tests.browser.pages import FUNCTION_KEY, link_row, open_overview, shoot
from tests.conftest import Api, app_env
from tests.integration.helpers import upload_new_version

SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
VAULT_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/certsync-local/providers/Microsoft.KeyVault/vaults/local"
LOCATION = "westeurope"


@dataclass
class ArmDashboard:
    api: Api
    url: str  # the dashboard with the function key, as a person opens it
    web: WebSiteManagementClient
    groups: ResourceManagementClient


@pytest.fixture(scope="module")
def arm_dashboard(storage_and_vault, keys_dir, tmp_path_factory) -> Iterator[ArmDashboard]:
    """The ARM emulator and an app on a host (function keys enforced) that manages its subscription."""
    connection, vault_url, cert, logs = storage_and_vault
    write_browser_keys(keys_dir)
    with start_emulator(key_vault_url=vault_url, key_vault_cert=cert) as arm:
        suffix = os.urandom(3).hex()
        env = app_env(
            connection, vault_url, cert,
            CERTSYNC_TABLE_PREFIX=f"armview{suffix}", OPERATIONS_QUEUE=f"armview-ops-{suffix}",
            LOCAL_HOST_ENABLE_AUTH="true", LOCAL_HOST_KEYS_DIR=str(keys_dir),
            APP_SERVICE_SUBSCRIPTIONS=SUBSCRIPTION, ARM_ENDPOINT=arm.url, ARM_EMULATOR_CERT=str(arm.cert_path),
            KEY_VAULT_RESOURCE_ID=VAULT_ID,
        )  # fmt: skip
        with arm_host(env, arm, SUBSCRIPTION, "armview", tmp_path_factory, logs) as served:
            base = served.base_url
            dashboard = f"{base}/api/dashboard?code={FUNCTION_KEY}"
            yield ArmDashboard(Api(base, key=FUNCTION_KEY), dashboard, served.web, served.groups)


def a_site_with_a_slot(arm: ArmDashboard, group: str, site: str) -> str:
    arm.groups.resource_groups.create_or_update(group, {"location": LOCATION})
    plan = arm.web.app_service_plans.begin_create_or_update(
        group, "plan", AppServicePlan(location=LOCATION, sku=SkuDescription(name="S1", tier="Standard"))
    ).result()
    arm.web.web_apps.begin_create_or_update(group, site, Site(location=LOCATION, server_farm_id=plan.id)).result()
    arm.web.web_apps.begin_create_or_update_slot(
        group, site, "staging", Site(location=LOCATION, server_farm_id=plan.id)
    ).result()
    return plan.id or ""


def test_the_overview_shows_arm_resources_bindings_and_their_thumbprints(
    page, arm_dashboard: ArmDashboard, secret_client, host_ctx, unique, screenshots
) -> None:
    arm = arm_dashboard
    name, group, site = f"shop-{unique}", f"rg-{unique}", f"shop-{unique}"
    hosts = [f"shop-{unique}.example.com", f"staging-{unique}.example.com"]
    op = arm.api.wait_operation(arm.api.call("POST", "certificates", {"name": name, "hostnames": hosts}))
    assert op["status"] == "Succeeded", op
    issued = arm.api.call("GET", f"certificates/{name}").json()["thumbprint"]
    a_site_with_a_slot(arm, group, site)
    open_overview(page, arm.url, name)

    # Link through ARM from the dashboard: the certificate resource and the production binding.
    form = page.locator("details", has_text="Link to an App Service app")
    form.get_by_text("Link to an App Service app").click()
    form.get_by_label("App (site)", exact=True).fill(site)
    form.get_by_label("Resource group", exact=True).fill(group)
    form.get_by_label("Hostnames to bind", exact=True).fill(hosts[0])
    form.get_by_role("button", name="Link to app").click()
    expect(page.locator("[data-name='links'] tbody tr[data-key]")).to_have_count(1)
    row = page.locator("[data-name='links'] tbody tr[data-key]").first
    link = row.get_attribute("data-key")
    assert link is not None
    # ... and a hostname of the slot, with the row's bind form.
    row.get_by_text("Bind a hostname").click()
    row.get_by_label("App (site)", exact=True).fill(site)
    row.get_by_label("Slot", exact=True).fill("staging")
    row.get_by_label("Hostname", exact=True).fill(hosts[1])
    row.get_by_role("button", name="Bind", exact=True).click()
    row = link_row(page, link)
    expect(row.locator("ul.bindings > li")).to_have_count(2)

    facts = row.locator("[data-arm='certificate']")
    expect(facts).to_contain_text("App Service certificate")
    expect(facts.locator("[data-field='resource']")).to_have_text(name)
    expect(facts.locator("[data-field='resource-group']")).to_have_text(group)
    expect(facts.locator("[data-field='server-farm']")).to_have_text("plan")
    expect(facts.locator("[data-field='secret-status']")).to_have_text("Succeeded")
    resource = facts.locator("[data-field='resource']").get_attribute("title") or ""
    assert resource.endswith(f"/resourceGroups/{group}/providers/Microsoft.Web/certificates/{name}")
    production = row.locator(f"ul.bindings > li[data-hostname='{hosts[0]}']")
    slot = row.locator(f"ul.bindings > li[data-hostname='{hosts[1]}']")
    expect(production.locator("[data-field='slot']")).to_have_text("production")
    expect(slot.locator("[data-field='slot']")).to_have_text("slot staging")
    for binding in (production, slot):
        expect(binding).to_have_attribute("data-in-sync", "true")
        expect(binding.locator("[data-field='ssl-state']")).to_have_text("SniEnabled")
        expect(binding.locator("code.thumbprint")).to_have_text(issued)
    expect(slot).to_have_attribute("title", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}"
                                   f"/providers/Microsoft.Web/sites/{site}/slots/staging")  # fmt: skip
    served = arm.web.web_apps.get_host_name_binding_slot(group, site, "staging", hosts[1]).thumbprint
    assert (served or "").upper() == issued

    # A version written outside certsync: the resource and both bindings are behind, shown as such.
    bundle = upload_new_version(secret_client, f"cert-{name}", hosts, host_ctx)
    page.reload()
    row = link_row(page, link)
    expect(row).to_have_attribute("data-in-sync", "false")
    for binding in (row.locator("ul.bindings > li").nth(0), row.locator("ul.bindings > li").nth(1)):
        expect(binding).to_have_attribute("data-in-sync", "false")
        expect(binding).to_contain_text("Link behind")
        expect(binding.locator(".thumbs.differs > div").nth(0)).to_contain_text(issued)
        expect(binding.locator(".thumbs.differs > div").nth(1)).to_contain_text(bundle.thumbprint)
        expect(binding.locator("[data-field='reason']")).to_contain_text("behind the newest version")
        assert binding.locator("mark.was").count() > 0 and binding.locator("mark.now").count() > 0
    shoot(page, screenshots, "overview-app-service")

    # Sync the link: App Service imports the new version, the bindings follow, all in sync again.
    row.get_by_role("button", name=f"Sync {link}").click()
    expect(row).to_have_attribute("data-in-sync", "true", timeout=60_000)
    row = link_row(page, link)
    expect(row.locator("ul.bindings > li[data-in-sync='true']")).to_have_count(2)
    expect(row.locator("ul.bindings > li code.thumbprint").first).to_have_text(bundle.thumbprint)
    assert (arm.web.certificates.get(group, name).thumbprint or "").upper() == bundle.thumbprint
    served = arm.web.web_apps.get_host_name_binding(group, site, hosts[0]).thumbprint
    assert (served or "").upper() == bundle.thumbprint
