"""End to end: certsync acting on App Service through the ARM emulator.

A user who works only through ARM (imports the certificate's Key Vault secret into App Service
and binds hostnames on a site and a slot with azure-mgmt-web, as the portal would) renews
through certsync's HTTP API; the certificate resource, every binding and the certificate served
over TLS (the emulator's TLS front, chosen by SNI) all carry the new version seconds later.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import AppServicePlan, Certificate, HostNameBinding, Site, SkuDescription
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from devtools.arm_emulator import EmulatorHandle, start_emulator
from tests.arm_emulator.support import make_pfx
from tests.arm_host import arm_host
from tests.conftest import Api, app_env

SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
VAULT_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/certsync-local/providers/Microsoft.KeyVault/vaults/local"
LOCATION = "westeurope"
WITHIN_SECONDS = 30


@dataclass
class ArmStack:
    arm: EmulatorHandle
    api: Api
    web: WebSiteManagementClient
    groups: ResourceManagementClient

    def manage(self, method: str, what: str, **kwargs) -> requests.Response:
        return requests.request(
            method, f"{self.arm.url}/_emulator/{what}", verify=str(self.arm.cert_path), timeout=10, **kwargs
        )


@pytest.fixture(scope="module")
def arm_stack(storage_and_vault, tmp_path_factory) -> Iterator[ArmStack]:
    """The ARM emulator (pages of 2, so every list follows nextLink) and a function host that
    manages its subscription."""
    connection, vault_url, cert, logs = storage_and_vault
    with start_emulator(key_vault_url=vault_url, key_vault_cert=cert, page_size=2) as arm:
        suffix = os.urandom(3).hex()
        env = app_env(
            connection,
            vault_url,
            cert,
            CERTSYNC_TABLE_PREFIX=f"arm{suffix}",
            OPERATIONS_QUEUE=f"arm-ops-{suffix}",
            APP_SERVICE_SUBSCRIPTIONS=SUBSCRIPTION,
            ARM_ENDPOINT=arm.url,
            ARM_EMULATOR_CERT=str(arm.cert_path),
            KEY_VAULT_RESOURCE_ID=VAULT_ID,
        )
        with arm_host(env, arm, SUBSCRIPTION, "arm", tmp_path_factory, logs) as served:
            yield ArmStack(arm, Api(served.base_url), served.web, served.groups)


@pytest.fixture
def stack(arm_stack: ArmStack) -> ArmStack:
    arm_stack.manage("DELETE", "faults").raise_for_status()
    arm_stack.manage("DELETE", "long-running").raise_for_status()
    arm_stack.manage("PUT", "keyvault-access", json={"allowed": True}).raise_for_status()
    return arm_stack


def issue(api: Api, name: str, hostnames: list[str]) -> dict:
    op = api.wait_operation(
        api.call("POST", "certificates", {"name": name, "hostnames": hostnames, "keyType": "EC256"})
    )
    assert op["status"] == "Succeeded", op
    return api.call("GET", f"certificates/{name}").json()


def renew(api: Api, name: str) -> dict:
    op = api.wait_operation(api.call("POST", f"certificates/{name}/renew", {}))
    assert op["status"] == "Succeeded", op
    return api.call("GET", f"certificates/{name}").json()


def app_world(stack: ArmStack, group: str, sites: list[str], slot: str = "") -> str:
    """A resource group with a plan, sites and (optionally) a slot on each; returns the plan id."""
    stack.groups.resource_groups.create_or_update(group, {"location": LOCATION})
    plan = stack.web.app_service_plans.begin_create_or_update(
        group, "plan", AppServicePlan(location=LOCATION, sku=SkuDescription(name="S1", tier="Standard"))
    ).result()
    for site in sites:
        stack.web.web_apps.begin_create_or_update(group, site, Site(location=LOCATION, server_farm_id=plan.id)).result()
        if slot:
            stack.web.web_apps.begin_create_or_update_slot(
                group, site, slot, Site(location=LOCATION, server_farm_id=plan.id)
            ).result()
    return plan.id or ""


def import_secret(stack: ArmStack, group: str, name: str, secret: str, plan_id: str) -> str:
    """What the portal does: import a Key Vault secret as an App Service certificate."""
    envelope = Certificate(
        location=LOCATION, key_vault_id=VAULT_ID, key_vault_secret_name=secret, server_farm_id=plan_id
    )
    imported = stack.web.certificates.create_or_update(group, name, envelope)
    assert imported.key_vault_secret_status == "Succeeded"
    return imported.thumbprint or ""


def bind(stack: ArmStack, group: str, site: str, host: str, thumbprint: str, slot: str = "") -> None:
    binding = HostNameBinding(ssl_state="SniEnabled", thumbprint=thumbprint)
    if slot:
        stack.web.web_apps.create_or_update_host_name_binding_slot(group, site, host, slot, binding)
    else:
        stack.web.web_apps.create_or_update_host_name_binding(group, site, host, binding)


def served_thumbprint(stack: ArmStack, hostname: str) -> str:
    """The certificate the TLS front presents for this SNI name."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", stack.arm.tls_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA1()).hex().upper()


def binding_thumbprint(stack: ArmStack, group: str, site: str, host: str, slot: str = "") -> str:
    if slot:
        got = stack.web.web_apps.get_host_name_binding_slot(group, site, slot, host)
    else:
        got = stack.web.web_apps.get_host_name_binding(group, site, host)
    return (got.thumbprint or "").upper()


def eventually(check: Callable[[], bool], seconds: float = WITHIN_SECONDS) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"not true within {seconds}s")


def test_renewal_reaches_every_site_and_slot_of_a_user_who_works_only_in_arm(stack: ArmStack, unique: str) -> None:
    name, group = f"shop-{unique}", f"rg-{unique}"
    hosts = {f"shop{i}-{unique}.example.com" for i in range(3)}
    cert = issue(stack.api, name, sorted(hosts))
    plan = app_world(stack, group, [f"web-{unique}", f"api-{unique}"], slot="staging")
    old = import_secret(stack, group, "imported", cert["keyVaultSecretName"], plan)
    assert old == cert["thumbprint"]
    bound = [
        (f"web-{unique}", f"shop0-{unique}.example.com", ""),
        (f"web-{unique}", f"shop1-{unique}.example.com", "staging"),
        (f"api-{unique}", f"shop2-{unique}.example.com", ""),
    ]
    for site, host, slot in bound:
        bind(stack, group, site, host, old, slot)
        assert served_thumbprint(stack, host) == old

    renewed = renew(stack.api, name)
    new = renewed["thumbprint"]
    assert new != old

    def all_new() -> bool:
        arm_cert = stack.web.certificates.get(group, "imported")
        return (arm_cert.thumbprint or "").upper() == new and all(
            binding_thumbprint(stack, group, site, host, slot) == new and served_thumbprint(stack, host) == new
            for site, host, slot in bound
        )

    eventually(all_new)
    overview = stack.api.call("GET", f"certificates/{name}").json()
    [link] = overview["linkedCertificates"]
    assert link["resourceId"].endswith(f"/resourceGroups/{group}/providers/Microsoft.Web/certificates/imported")
    assert link["thumbprint"] == new and link["keyVaultSecretStatus"] == "Succeeded" and link["inSync"] is True
    assert {(b["app"], b["hostname"], b["slot"]) for b in link["bindings"]} == {
        (site, host, slot or None) for site, host, slot in bound
    }


def test_app_service_without_vault_access_shows_as_a_link_error(stack: ArmStack, unique: str) -> None:
    name, group = f"locked-{unique}", f"rg-{unique}"
    host = f"locked-{unique}.example.com"
    cert = issue(stack.api, name, [host])
    plan = app_world(stack, group, [f"locked-{unique}"])
    old = import_secret(stack, group, "locked", cert["keyVaultSecretName"], plan)
    bind(stack, group, f"locked-{unique}", host, old)
    stack.manage("PUT", "keyvault-access", json={"allowed": False}).raise_for_status()

    new = renew(stack.api, name)["thumbprint"]

    def link_error() -> str:
        links = stack.api.call("GET", f"certificates/{name}").json()["linkedCertificates"]
        return (links[0]["lastSyncError"] or "") if links else ""

    eventually(lambda: "AzureServiceUnauthorizedToAccessKeyVault" in link_error())
    assert "Key Vault Certificate User" in link_error()
    assert new != old
    assert binding_thumbprint(stack, group, f"locked-{unique}", host) == old  # nothing else changed
    assert served_thumbprint(stack, host) == old


def test_a_sync_uses_no_long_running_operation_so_arm_answering_them_late_or_failed_never_stalls_it(
    stack: ArmStack, unique: str
) -> None:
    """What certsync calls (certificate list/get/PUT, site and slot lists, hostname binding get/PUT)
    is synchronous in the Microsoft.Web spec (200 only); plan, site and slot PUTs are the
    long-running ones. With all of those answering 202 and then failing, a renewal still moves
    every binding, and certsync asked for none of them (so it has no poller to follow)."""
    name, group, site = f"lro-{unique}", f"rg-{unique}", f"lro-{unique}"
    hosts = [f"lro{i}-{unique}.example.com" for i in range(2)]
    cert = issue(stack.api, name, hosts)
    plan = app_world(stack, group, [site], slot="staging")
    old = import_secret(stack, group, "lro", cert["keyVaultSecretName"], plan)
    bind(stack, group, site, hosts[0], old)
    bind(stack, group, site, hosts[1], old, slot="staging")
    stack.manage("PUT", "long-running", json={"outcome": "Failed"}).raise_for_status()
    stack.manage("POST", "reset").raise_for_status()

    new = renew(stack.api, name)["thumbprint"]

    eventually(
        lambda: binding_thumbprint(stack, group, site, hosts[0]) == new
        and binding_thumbprint(stack, group, site, hosts[1], "staging") == new
        and all(served_thumbprint(stack, host) == new for host in hosts)
    )
    counters = stack.manage("GET", "counters").json()
    long_running = ("serverfarms.put", "sites.put", "sites.slots.put", "operationResults.get")
    assert {op: counters[op] for op in long_running} == dict.fromkeys(long_running, 0)
    assert counters["certificates.put"] >= 1
    [link] = stack.api.call("GET", f"certificates/{name}").json()["linkedCertificates"]
    assert link["inSync"] is True and not link["lastSyncError"]


def test_a_version_that_does_not_cover_a_bound_hostname_is_never_imported(
    stack: ArmStack, secret_client, unique: str
) -> None:
    """A new version written outside certsync drops a bound hostname: the sync refuses it, so App
    Service keeps serving the old certificate; the link says why."""
    name, group = f"narrow-{unique}", f"rg-{unique}"
    hosts = [f"a-{unique}.example.com", f"b-{unique}.example.com"]
    cert = issue(stack.api, name, hosts)
    plan = app_world(stack, group, [f"narrow-{unique}"])
    old = import_secret(stack, group, "narrow", cert["keyVaultSecretName"], plan)
    bind(stack, group, f"narrow-{unique}", hosts[1], old)
    narrow = make_pfx(hosts[0])
    secret_client.set_secret(cert["keyVaultSecretName"], narrow.value, content_type="application/x-pkcs12")

    op = stack.api.wait_operation(stack.api.call("POST", f"certificates/{name}/sync", {}))

    assert op["status"] == "Failed" and "HostnameNotCovered" in op["error"]["message"], op
    [link] = stack.api.call("GET", f"certificates/{name}").json()["linkedCertificates"]
    assert "HostnameNotCovered" in link["lastSyncError"]
    assert (stack.web.certificates.get(group, "narrow").thumbprint or "").upper() == old
    assert binding_thumbprint(stack, group, f"narrow-{unique}", hosts[1]) == old
    assert served_thumbprint(stack, hosts[1]) == old


def test_a_secret_changed_outside_certsync_is_moved_by_the_sweep(stack: ArmStack, secret_client, unique: str) -> None:
    name, group = f"outside-{unique}", f"rg-{unique}"
    host = f"outside-{unique}.example.com"
    cert = issue(stack.api, name, [host])
    plan = app_world(stack, group, [f"outside-{unique}"])
    old = import_secret(stack, group, "outside", cert["keyVaultSecretName"], plan)
    bind(stack, group, f"outside-{unique}", host, old)
    fresh = make_pfx(host)
    secret_client.set_secret(cert["keyVaultSecretName"], fresh.value, content_type="application/x-pkcs12")

    run = requests.post(f"{stack.api.base}/admin/functions/sync_sweep", json={"input": ""}, timeout=30)
    assert run.status_code in (200, 202), run.text

    eventually(lambda: binding_thumbprint(stack, group, f"outside-{unique}", host) == fresh.thumbprint)
    assert (stack.web.certificates.get(group, "outside").thumbprint or "").upper() == fresh.thumbprint
    assert served_thumbprint(stack, host) == fresh.thumbprint


def test_link_from_certsync_binds_in_arm_and_renewal_follows(stack: ArmStack, unique: str) -> None:
    """The README walkthrough through certsync's API alone: link to an app, bind a hostname of
    the site and one of its slot, renew, and see the new certificate served on both."""
    name, group, site = f"linked-{unique}", f"rg-{unique}", f"linked-{unique}"
    hosts = [f"linked-{unique}.example.com", f"staging-{unique}.example.com"]
    cert = issue(stack.api, name, hosts)
    app_world(stack, group, [site], slot="staging")

    linked = stack.api.call(
        "POST", f"apps/{site}/certificates", {"certificate": name, "resourceGroup": group, "hostnames": hosts[:1]}
    )
    assert linked.status_code == 201, linked.text
    link = linked.json()
    assert link["resourceId"].endswith(f"/resourceGroups/{group}/providers/Microsoft.Web/certificates/{name}")
    assert [(b["app"], b["hostname"], b["thumbprint"]) for b in link["bindings"]] == [
        (site, hosts[0], cert["thumbprint"])
    ]
    assert served_thumbprint(stack, hosts[0]) == cert["thumbprint"]
    on_slot = stack.api.call("PUT", f"apps/{site}/bindings/{hosts[1]}", {"link": link["name"], "slot": "staging"})
    assert on_slot.status_code == 201, on_slot.text
    assert binding_thumbprint(stack, group, site, hosts[1], "staging") == cert["thumbprint"]

    new = renew(stack.api, name)["thumbprint"]

    eventually(lambda: all(served_thumbprint(stack, h) == new for h in hosts))
    assert (stack.web.certificates.get(group, name).thumbprint or "").upper() == new


def test_linking_a_hostname_the_certificate_does_not_cover_is_refused_before_arm_is_touched(
    stack: ArmStack, unique: str
) -> None:
    name, group, site = f"refused-{unique}", f"rg-{unique}", f"refused-{unique}"
    issue(stack.api, name, [f"refused-{unique}.example.com"])
    app_world(stack, group, [site])

    refused = stack.api.call(
        "POST",
        f"apps/{site}/certificates",
        {"certificate": name, "resourceGroup": group, "hostnames": [f"other-{unique}.example.com"]},
    )

    assert refused.status_code == 400 and refused.json()["error"]["code"] == "HostnameNotCovered"
    assert list(stack.web.certificates.list_by_resource_group(group)) == []
    outside = stack.api.call("POST", f"apps/{site}/certificates", {"certificate": name, "resourceGroup": "x"})
    assert outside.status_code == 404 or outside.json()["error"]["code"] in (
        "ResourceGroupNotFound",
        "ResourceNotFound",
    )


def sweep_and_wait(stack: ArmStack, check: Callable[[], bool]) -> None:
    run = requests.post(f"{stack.api.base}/admin/functions/sync_sweep", json={"input": ""}, timeout=30)
    assert run.status_code in (200, 202), run.text
    eventually(check)


def test_what_a_user_deletes_in_arm_leaves_the_overview_at_the_next_sweep(stack: ArmStack, unique: str) -> None:
    """Regression: a slot, a site, a hostname's SSL and finally the certificate resource removed
    through azure-mgmt-web stayed in certsync's index (and counted in the overview) for ever."""
    name, group, web, api = f"gone-{unique}", f"rg-{unique}", f"web-{unique}", f"api-{unique}"
    hosts = [f"h{i}-{unique}.example.com" for i in range(4)]
    issue(stack.api, name, hosts)
    app_world(stack, group, [web, api], slot="staging")
    linked = stack.api.call(
        "POST", f"apps/{web}/certificates", {"certificate": name, "resourceGroup": group, "hostnames": hosts[:2]}
    )
    assert linked.status_code == 201, linked.text
    link = linked.json()["name"]
    for host, app, slot in ((hosts[2], web, "staging"), (hosts[3], api, "")):
        body = {"link": link, "slot": slot} if slot else {"link": link}
        bound = stack.api.call("PUT", f"apps/{app}/bindings/{host}", body)
        assert bound.status_code == 201, bound.text

    def bound_hosts() -> list[str]:
        [state] = stack.api.call("GET", f"certificates/{name}").json()["linkedCertificates"]
        assert state["inSync"] is True
        return sorted(b["hostname"] for b in state["bindings"])

    assert bound_hosts() == sorted(hosts)
    [state] = stack.api.call("GET", f"certificates/{name}").json()["linkedCertificates"]
    site_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Web/sites"
    assert sorted((b["appResourceId"], b["slot"], b["syncState"]) for b in state["bindings"]) == [
        (f"{site_id}/{api}", None, "InSync"),
        (f"{site_id}/{web}", None, "InSync"),
        (f"{site_id}/{web}", None, "InSync"),
        (f"{site_id}/{web}/slots/staging", "staging", "InSync"),
    ]
    stack.web.web_apps.delete_slot(group, web, "staging")
    stack.web.web_apps.delete(group, api)
    stack.web.web_apps.create_or_update_host_name_binding(
        group, web, hosts[1], HostNameBinding(ssl_state="Disabled")
    )

    sweep_and_wait(stack, lambda: bound_hosts() == [hosts[0]])
    assert stack.api.call("GET", f"apps/{api}/bindings").json()["value"] == []

    stack.web.web_apps.delete_host_name_binding(group, web, hosts[0])
    stack.web.certificates.delete(group, name)

    sweep_and_wait(stack, lambda: stack.api.call("GET", f"certificates/{name}").json()["linkedCertificates"] == [])
    assert stack.api.call("GET", f"links/{link}").status_code == 404
    [row] = [c for c in stack.api.call("GET", "certificates").json()["value"] if c["name"] == name]
    assert (row["linkCount"], row["outOfSyncLinks"]) == (0, 0)


def test_removing_a_binding_through_certsync_turns_its_ssl_off_in_arm(stack: ArmStack, unique: str) -> None:
    name, group, site = f"unbind-{unique}", f"rg-{unique}", f"unbind-{unique}"
    hosts = [f"a-{unique}.example.com", f"b-{unique}.example.com"]
    issue(stack.api, name, hosts)
    app_world(stack, group, [site])
    linked = stack.api.call(
        "POST", f"apps/{site}/certificates", {"certificate": name, "resourceGroup": group, "hostnames": hosts}
    )
    assert linked.status_code == 201, linked.text

    removed = stack.api.call("DELETE", f"apps/{site}/bindings/{hosts[1]}")

    assert removed.status_code == 204, removed.text
    binding = stack.web.web_apps.get_host_name_binding(group, site, hosts[1])
    assert binding.ssl_state == "Disabled" and not binding.thumbprint  # the hostname stays on the site
    op = stack.api.wait_operation(stack.api.call("POST", f"certificates/{name}/sync", {}))
    assert op["status"] == "Succeeded", op
    [state] = stack.api.call("GET", f"certificates/{name}").json()["linkedCertificates"]
    assert [b["hostname"] for b in state["bindings"]] == [hosts[0]]
