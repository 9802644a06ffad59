"""Fixtures: a Key Vault emulator and an ARM emulator (pages of 2) per session, wiped before every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from azure.keyvault.secrets import SecretClient
from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import AppServicePlan, Certificate, Site, SkuDescription

from devtools.arm_emulator import EmulatorHandle, start_emulator
from devtools.arm_emulator.keyvault import AppServicePrincipalCredential
from devtools.kv_emulator import EmulatorHandle as VaultHandle
from devtools.kv_emulator import start_emulator as start_vault

from .support import LOCAL_VAULT_ID, LOCATION, PFX, SUBSCRIPTION, RawArm, TestPfx, make_pfx

PAGE_SIZE = 2


@pytest.fixture(scope="session")
def vault() -> Iterator[VaultHandle]:
    with start_vault(host="127.0.0.1", port=0) as handle:
        yield handle


@pytest.fixture(scope="session")
def arm(vault: VaultHandle) -> Iterator[EmulatorHandle]:
    with start_emulator(key_vault_url=vault.url, key_vault_cert=vault.cert_path, page_size=PAGE_SIZE) as handle:
        yield handle


@pytest.fixture(scope="session")
def secrets(vault: VaultHandle) -> Iterator[SecretClient]:
    client = SecretClient(
        vault.url,
        AppServicePrincipalCredential(),
        verify_challenge_resource=False,
        connection_verify=str(vault.cert_path),
    )
    yield client
    client.close()


@pytest.fixture
def raw(arm: EmulatorHandle) -> Iterator[RawArm]:
    with requests.Session() as session:
        yield RawArm(arm.url, str(arm.cert_path), session)


@pytest.fixture(autouse=True)
def clean(raw: RawArm, vault: VaultHandle) -> None:
    raw.manage("DELETE", "faults").raise_for_status()
    raw.manage("DELETE", "long-running").raise_for_status()
    raw.manage("POST", "reset", params={"data": "true"}).raise_for_status()
    requests.post(f"{vault.url}/_emulator/reset", params={"data": "true"}, verify=str(vault.cert_path), timeout=10)


@pytest.fixture
def make_web(arm: EmulatorHandle) -> Iterator[Callable[..., WebSiteManagementClient]]:
    clients: list[WebSiteManagementClient] = []

    def make(subscription: str = SUBSCRIPTION, **options: Any) -> WebSiteManagementClient:
        clients.append(
            WebSiteManagementClient(
                AppServicePrincipalCredential(),
                subscription,
                base_url=arm.url,
                connection_verify=str(arm.cert_path),
                **options,
            )
        )
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def web(make_web: Callable[..., WebSiteManagementClient]) -> WebSiteManagementClient:
    return make_web()


@pytest.fixture
def groups(arm: EmulatorHandle) -> Iterator[ResourceManagementClient]:
    client = ResourceManagementClient(
        AppServicePrincipalCredential(),
        SUBSCRIPTION,
        base_url=arm.url,
        connection_verify=str(arm.cert_path),
    )
    yield client
    client.close()


@dataclass
class AppWorld:
    """One resource group with a plan and a site, and helpers to import certificates into it."""

    web: WebSiteManagementClient
    secrets: SecretClient
    group: str
    plan_id: str

    def site(self, name: str, group: str | None = None) -> Site:
        return self.web.web_apps.begin_create_or_update(
            group or self.group, name, Site(location=LOCATION, server_farm_id=self.plan_id)
        ).result()

    def import_cert(
        self, name: str, pfx: TestPfx | None, secret: str | None = None, group: str | None = None
    ) -> Certificate:
        secret = secret or name
        if pfx is not None:
            self.secrets.set_secret(secret, pfx.value, content_type=PFX)
        return self.web.certificates.create_or_update(
            group or self.group,
            name,
            Certificate(location=LOCATION, key_vault_id=LOCAL_VAULT_ID, key_vault_secret_name=secret),
        )


@pytest.fixture
def world(web: WebSiteManagementClient, groups: ResourceManagementClient, secrets: SecretClient) -> AppWorld:
    groups.resource_groups.create_or_update("apps", {"location": LOCATION})
    plan = web.app_service_plans.begin_create_or_update(
        "apps", "plan", AppServicePlan(location=LOCATION, sku=SkuDescription(name="B1", tier="Basic"))
    ).result()
    return AppWorld(web, secrets, "apps", plan.id or "")


__all__ = ["AppWorld", "make_pfx"]


@pytest.fixture
def dns(arm: EmulatorHandle, groups: ResourceManagementClient) -> Iterator[DnsManagementClient]:
    """azure-mgmt-dns against the emulator, with a resource group `dns` holding nothing yet."""
    groups.resource_groups.create_or_update("dns", {"location": LOCATION})
    client = DnsManagementClient(
        AppServicePrincipalCredential(),
        SUBSCRIPTION,
        base_url=arm.url,
        connection_verify=str(arm.cert_path),
        retry_total=0,
    )
    yield client
    client.close()
