"""The App Service port: the fake and certsync's azure-mgmt-web adapter (against the ARM
emulator, importing from the Key Vault emulator) list, import and bind alike."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest
import requests
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import AppServicePlan, Site, SkuDescription

from devtools.arm_emulator import EmulatorHandle, start_emulator
from devtools.arm_emulator.keyvault import AppServicePrincipalCredential
from shared.appservice.client import AzureAppService
from shared.appservice.resources import SUCCEEDED, ArmBinding, ArmCertificate
from shared.credentials import EmulatorCredential
from shared.errors import BadRequest
from shared.ports import AppService, SecretStore
from tests.arm_emulator.support import make_pfx
from tests.fakes.appservice import FakeAppService
from tests.fakes.vault import FakeVault

SUB = "11111111-1111-1111-1111-111111111111"
VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/certsync-local/providers/Microsoft.KeyVault/vaults/local"
LOCATION = "westeurope"
PFX = "application/x-pkcs12"


@dataclass
class AppServiceSide:
    service: AppService
    vault: SecretStore
    group: str
    plan_id: str
    add_site: Callable[[str, str], None]  # (site, slot "" for production)
    deny_vault: Callable[[], None]

    def cert(self, name: str, secret: str) -> ArmCertificate:
        return ArmCertificate(SUB, self.group, name, LOCATION, VAULT_ID, secret, self.plan_id)

    def binding(self, site: str, host: str, thumbprint: str, slot: str = "") -> ArmBinding:
        return ArmBinding(SUB, self.group, site, host, slot, "SniEnabled", thumbprint)


@pytest.fixture(scope="module")
def arm(storage_and_vault) -> Iterator[EmulatorHandle]:
    _, vault_url, cert, _ = storage_and_vault
    with start_emulator(key_vault_url=vault_url, key_vault_cert=cert, page_size=2) as handle:
        yield handle


def _fake_side() -> AppServiceSide:
    vault = FakeVault("https://fake.vault.azure.net")
    fake = FakeAppService(vault, VAULT_ID)

    def deny() -> None:
        fake.vault_access = False

    return AppServiceSide(
        fake, vault, "apps", "plan-id", lambda site, slot: fake.add_site(SUB, "apps", site, slot), deny
    )


def _real_side(request: pytest.FixtureRequest) -> Iterator[AppServiceSide]:
    arm: EmulatorHandle = request.getfixturevalue("arm")
    ctx = request.getfixturevalue("make_ctx")()
    group = f"rg-{os.urandom(3).hex()}"
    options = {"base_url": arm.url, "connection_verify": str(arm.cert_path)}
    credential = AppServicePrincipalCredential()
    web = WebSiteManagementClient(credential, SUB, **options)  # type: ignore[arg-type]
    with ResourceManagementClient(credential, SUB, **options) as groups:  # type: ignore[arg-type]
        groups.resource_groups.create_or_update(group, {"location": LOCATION})
    plan = web.app_service_plans.begin_create_or_update(
        group, "plan", AppServicePlan(location=LOCATION, sku=SkuDescription(name="S1", tier="Standard"))
    ).result()

    def add_site(site: str, slot: str) -> None:
        envelope = Site(location=LOCATION, server_farm_id=plan.id)
        if slot:
            web.web_apps.begin_create_or_update_slot(group, site, slot, envelope).result()
        else:
            web.web_apps.begin_create_or_update(group, site, envelope).result()

    def deny() -> None:
        url = f"{arm.url}/_emulator/keyvault-access"
        requests.put(url, json={"allowed": False}, verify=str(arm.cert_path), timeout=10).raise_for_status()

    adapter = AzureAppService(arm.url, EmulatorCredential(), verify=str(arm.cert_path), retry_total=0)  # type: ignore[arg-type]
    yield AppServiceSide(adapter, ctx.vault, group, plan.id or "", add_site, deny)
    requests.put(
        f"{arm.url}/_emulator/keyvault-access", json={"allowed": True}, verify=str(arm.cert_path), timeout=10
    ).raise_for_status()
    adapter.close()
    web.close()


@pytest.fixture
def domain() -> str:
    """Hostnames belong to one app across App Service: each test binds its own."""
    return f"{os.urandom(3).hex()}.example.com"


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.emulators)])
def side(request: pytest.FixtureRequest) -> Iterator[AppServiceSide]:
    if request.param == "fake":
        yield _fake_side()
    else:
        yield from _real_side(request)


def _secret(side: AppServiceSide, *names: str) -> tuple[str, str]:
    secret = f"s-{os.urandom(3).hex()}"
    pfx = make_pfx(*names)
    side.vault.set_secret(secret, pfx.value, content_type=PFX)
    return secret, pfx.thumbprint


def test_import_reads_the_latest_version_and_the_list_finds_it(side: AppServiceSide, domain: str) -> None:
    secret, first = _secret(side, f"shop.{domain}")
    put = side.service.put_certificate(side.cert("shop", secret))
    assert (put.thumbprint, put.secret_status) == (first, SUCCEEDED)
    assert put.host_names == (f"shop.{domain}",) and put.expiration is not None
    listed = [c for c in side.service.list_certificates(SUB) if c.resource_group == side.group]
    assert [(c.name, c.thumbprint, c.key_vault_secret_name) for c in listed] == [("shop", first, secret)]
    assert listed[0].references(VAULT_ID.upper(), secret.upper())
    renewed = make_pfx(f"shop.{domain}")
    side.vault.set_secret(secret, renewed.value, content_type=PFX)
    assert side.service.put_certificate(side.cert("shop", secret)).thumbprint == renewed.thumbprint
    got = side.service.get_certificate(SUB, side.group, "shop")
    assert got.thumbprint == renewed.thumbprint and got.id == put.id


def test_bindings_of_sites_and_slots_are_listed_read_and_moved(side: AppServiceSide, domain: str) -> None:
    web = f"web-{os.urandom(3).hex()}"  # site names are global in App Service
    secret, first = _secret(side, f"a.{domain}", f"b.{domain}")
    side.service.put_certificate(side.cert("ab", secret))
    side.add_site(web, "")
    side.add_site(web, "staging")
    side.service.put_binding(side.binding(web, f"a.{domain}", first))
    side.service.put_binding(side.binding(web, f"b.{domain}", first, slot="staging"))
    listed = sorted((b.app, b.hostname, b.thumbprint) for b in side.service.list_bindings(SUB, side.group))
    assert listed == [(web, f"a.{domain}", first), (f"{web}/staging", f"b.{domain}", first)]
    read = side.service.get_binding(side.binding(web, f"b.{domain}", "", slot="staging"))
    assert (read.thumbprint, read.ssl_state) == (first, "SniEnabled")
    renewed = make_pfx(f"a.{domain}", f"b.{domain}")
    side.vault.set_secret(secret, renewed.value, content_type=PFX)
    side.service.put_certificate(side.cert("ab", secret))  # App Service moves the webspace's bindings with it
    assert {b.thumbprint for b in side.service.list_bindings(SUB, side.group)} == {renewed.thumbprint}


def test_a_binding_needs_a_certificate_of_the_group_that_covers_the_hostname(side: AppServiceSide, domain: str) -> None:
    web = f"web-{os.urandom(3).hex()}"
    secret, thumbprint = _secret(side, f"a.{domain}")
    side.service.put_certificate(side.cert("a", secret))
    side.add_site(web, "")
    with pytest.raises(BadRequest):
        side.service.put_binding(side.binding(web, f"other.{domain}", thumbprint))
    with pytest.raises(BadRequest):
        side.service.put_binding(side.binding(web, f"a.{domain}", "AB" * 20))
    side.service.put_binding(side.binding(web, f"a.{domain}", thumbprint))
    cleared = side.service.put_binding(replace(side.binding(web, f"a.{domain}", ""), ssl_state="Disabled"))
    assert cleared.thumbprint == "" and side.service.list_bindings(SUB, side.group) == []


def test_without_vault_access_the_import_keeps_the_old_thumbprint_and_says_why(
    side: AppServiceSide, domain: str
) -> None:
    secret, first = _secret(side, f"shop.{domain}")
    side.service.put_certificate(side.cert("shop", secret))
    side.vault.set_secret(secret, make_pfx(f"shop.{domain}").value, content_type=PFX)
    side.deny_vault()
    again = side.service.put_certificate(side.cert("shop", secret))
    assert (again.thumbprint, again.secret_status) == (first, "AzureServiceUnauthorizedToAccessKeyVault")
