"""End to end with two Key Vault emulators (KEY_VAULT_URLS) and the ARM emulator knowing both:
a certificate created over HTTP into the second vault is shown with its vault, exported, linked
by its secret id and in App Service (keyVaultId = the second vault's), renewed (the links
follow), and a version written there outside certsync is found by the sweep."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests
from cryptography.hazmat.primitives.serialization import pkcs12

from devtools.arm_emulator import start_emulator
from devtools.processes import env_only_host, free_port
from shared import pki
from tests.arm_emulator.support import make_pfx
from tests.arm_host import arm_host
from tests.conftest import SECOND_VAULT_NAME, Api, app_env
from tests.e2e.test_app_service_api import (
    SUBSCRIPTION,
    VAULT_ID,
    ArmStack,
    app_world,
    binding_thumbprint,
    eventually,
    served_thumbprint,
)

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def vaults_stack(storage_and_vault, second_vault, tmp_path_factory) -> Iterator[ArmStack]:
    """The ARM emulator knowing both vaults, and a host configured with both and managing ARM."""
    connection, vault_url, cert, logs = storage_and_vault
    extra = {SECOND_VAULT_NAME: second_vault.url}
    with start_emulator(key_vault_url=vault_url, key_vault_cert=cert, extra_key_vaults=extra) as arm:
        suffix = os.urandom(3).hex()
        env = app_env(
            connection,
            vault_url,
            cert,
            CERTSYNC_TABLE_PREFIX=f"kv{suffix}",
            OPERATIONS_QUEUE=f"kv-ops-{suffix}",
            APP_SERVICE_SUBSCRIPTIONS=SUBSCRIPTION,
            ARM_ENDPOINT=arm.url,
            ARM_EMULATOR_CERT=str(arm.cert_path),
            KEY_VAULT_RESOURCE_ID=VAULT_ID,
            **second_vault.settings(),
        )
        with arm_host(env, arm, SUBSCRIPTION, "vaults", tmp_path_factory, logs) as served:
            yield ArmStack(arm, Api(served.base_url), served.web, served.groups)


def test_an_unknown_vault_is_refused_naming_the_configured_ones(vaults_stack: ArmStack, unique: str) -> None:
    answer = vaults_stack.api.call(
        "POST", "certificates", {"name": f"nowhere-{unique}", "hostnames": ["a.example.com"], "vault": "elsewhere"}
    )

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "UnknownVault" and SECOND_VAULT_NAME in error["message"]
    assert vaults_stack.api.call("GET", f"certificates/nowhere-{unique}").status_code == 404


def test_health_probes_both_vaults(vaults_stack: ArmStack) -> None:
    health = vaults_stack.api.call("GET", "health")

    assert health.status_code == 200 and health.json()["dependencies"]["keyVault"]["status"] == "Healthy"


def test_a_certificate_in_the_second_vault_end_to_end(
    vaults_stack: ArmStack, second_vault, storage_and_vault, secret_client, unique: str
) -> None:
    api, name, group, site = vaults_stack.api, f"two-{unique}", f"rg-{unique}", f"two-{unique}"
    hosts = [f"two-{unique}.example.com", f"link-{unique}.example.com"]
    vault_b = second_vault.client(storage_and_vault[2])
    created = api.call("POST", "certificates", {"name": name, "hostnames": hosts, "keyType": "EC256",
                                                "vault": SECOND_VAULT_NAME})
    assert api.wait_operation(created)["status"] == "Succeeded"

    cert = api.call("GET", f"certificates/{name}").json()
    secret_id = f"{second_vault.url}/secrets/{cert['keyVaultSecretName']}"
    assert cert["vault"] == second_vault.url and cert["keyVaultSecretId"] == secret_id
    listed = api.call("GET", "certificates", params={"$top": 100}).json()["value"]
    assert [c["vault"] for c in listed if c["name"] == name] == [second_vault.url]
    location = api.call("GET", f"certificates/{name}/secret").json()
    assert location["keyVaultResourceId"] == second_vault.resource_id
    assert vault_b.get_secret(cert["keyVaultSecretName"]).properties.version == cert["keyVaultSecretVersion"]
    assert not [s for s in secret_client.list_properties_of_secrets() if s.name == cert["keyVaultSecretName"]]

    exported = api.call("POST", f"certificates/{name}/export", {"format": "pfx", "password": PASSWORD})
    loaded = pkcs12.load_pkcs12(exported.content, PASSWORD.encode())
    assert loaded.cert is not None and pki.thumbprint(loaded.cert.certificate) == cert["thumbprint"]

    by_id = api.call("POST", "links", {"name": f"byid-{unique}", "keyVaultSecretId": secret_id})
    assert by_id.status_code == 201, by_id.text
    bound = api.call("PUT", f"apps/plain-{unique}/bindings/{hosts[1]}", {"link": f"byid-{unique}"})
    assert bound.status_code == 201, bound.text
    app_world(vaults_stack, group, [site])
    linked = api.call("POST", f"apps/{site}/certificates",
                      {"certificate": name, "resourceGroup": group, "hostnames": hosts[:1]})
    assert linked.status_code == 201, linked.text
    assert (vaults_stack.web.certificates.get(group, name).key_vault_id or "").lower() == (
        second_vault.resource_id.lower()
    )
    assert served_thumbprint(vaults_stack, hosts[0]) == cert["thumbprint"]

    renewed = api.wait_operation(api.call("POST", f"certificates/{name}/renew", {}))
    assert renewed["status"] == "Succeeded", renewed
    new = api.call("GET", f"certificates/{name}").json()["thumbprint"]
    assert new != cert["thumbprint"]

    def binding_of_link() -> str:
        return api.call("GET", f"links/byid-{unique}").json()["bindings"][0]["thumbprint"]

    eventually(lambda: served_thumbprint(vaults_stack, hosts[0]) == new and binding_of_link() == new)

    fresh = make_pfx(*hosts)
    vault_b.set_secret(cert["keyVaultSecretName"], fresh.value, content_type="application/x-pkcs12")
    run = requests.post(f"{api.base}/admin/functions/sync_sweep", json={"input": ""}, timeout=30)
    assert run.status_code in (200, 202), run.text

    eventually(lambda: binding_thumbprint(vaults_stack, group, site, hosts[0]) == fresh.thumbprint)
    eventually(lambda: binding_of_link() == fresh.thumbprint)
    overview = api.call("GET", f"certificates/{name}").json()
    assert overview["currentThumbprint"] == fresh.thumbprint and overview["vault"] == second_vault.url
    vault_b.close()


def test_a_bad_vault_list_is_a_start_error_shown_by_health(storage_and_vault, tmp_path_factory) -> None:
    connection, vault_url, cert, logs = storage_and_vault
    env = app_env(connection, vault_url, cert, KEY_VAULT_URLS="https://127.0.0.1:9443/secrets/x")
    port = free_port()
    host = env_only_host(port, env, tmp_path_factory.mktemp("bad-vaults"), log_path=logs / "bad-vaults-host.log")
    host.start()
    try:
        host.wait_ready(90)
        health = Api(f"http://127.0.0.1:{port}").call("GET", "health")
    finally:
        host.stop()

    assert health.status_code == 503
    assert "KEY_VAULT_URLS" in health.json()["configuration"]["detail"]
