"""The emulator as `make run` starts it: a child process, persistent with --data-dir, wired to the vault process."""

from __future__ import annotations

import hashlib
import socket
import ssl
from pathlib import Path

import requests
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import (
    AppServicePlan,
    Certificate,
    CertificateProperties,
    HostNameBinding,
    HostNameBindingProperties,
    Site,
    SiteProperties,
    SkuDescription,
)

from devtools.arm_emulator.keyvault import AppServicePrincipalCredential
from devtools.processes import arm_emulator, free_dns_port, free_port

from .support import LOCAL_VAULT_ID, LOCATION, SUBSCRIPTION, make_pfx


def _put_group(port: int, cert: Path) -> requests.Response:
    return requests.put(
        f"https://127.0.0.1:{port}/subscriptions/{SUBSCRIPTION}/resourcegroups/kept",
        params={"api-version": "2025-04-01"},
        json={"location": LOCATION},
        headers={"Authorization": "Bearer t"},
        verify=str(cert),
        timeout=10,
    )


def _get_group(port: int, cert: Path) -> int:
    return requests.get(
        f"https://127.0.0.1:{port}/subscriptions/{SUBSCRIPTION}/resourcegroups/kept",
        params={"api-version": "2025-04-01"},
        headers={"Authorization": "Bearer t"},
        verify=str(cert),
        timeout=10,
    ).status_code


def test_data_dir_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "arm"
    port, tls_port, dns_port = free_port(), free_port(), free_dns_port()  # not 8053: `make run` may hold it
    first = arm_emulator(port, tls_port, data, data, None, None, log_path=tmp_path / "first.log", dns_port=dns_port)
    first.start()
    try:
        first.wait_ready(30)
        assert _put_group(port, data / "emulator-cert.pem").status_code == 201
    finally:
        first.stop()
    second = arm_emulator(port, tls_port, data, data, None, None, log_path=tmp_path / "second.log", dns_port=dns_port)
    second.start()
    try:
        second.wait_ready(30)
        assert _get_group(port, data / "emulator-cert.pem") == 200
    finally:
        second.stop()
    assert oct((data / "arm-emulator-state.json").stat().st_mode & 0o777) == "0o600"


def test_the_stacks_arm_emulator_imports_from_the_stacks_vault(arm_stack, secret_client) -> None:
    """Two processes as `make run` wires them: a PFX set in the vault is what the TLS front serves.

    Written with the typed model constructors (properties=...), the form mypy accepts in shared/.
    """
    pfx = make_pfx("proc.example.com")
    secret_client.set_secret("proc-cert", pfx.value, content_type="application/x-pkcs12")
    options = {"base_url": arm_stack.url, "connection_verify": str(arm_stack.cert)}
    credential = AppServicePrincipalCredential()
    with (
        ResourceManagementClient(credential, SUBSCRIPTION, **options) as groups,
        WebSiteManagementClient(credential, SUBSCRIPTION, **options) as web,
    ):
        groups.resource_groups.create_or_update("proc", {"location": LOCATION})
        plan = web.app_service_plans.begin_create_or_update(
            "proc", "plan", AppServicePlan(location=LOCATION, sku=SkuDescription(name="B1"))
        ).result()
        web.web_apps.begin_create_or_update(
            "proc", "proc", Site(location=LOCATION, properties=SiteProperties(server_farm_id=plan.id))
        ).result()
        cert = web.certificates.create_or_update(
            "proc",
            "proc",
            Certificate(
                location=LOCATION,
                properties=CertificateProperties(key_vault_id=LOCAL_VAULT_ID, key_vault_secret_name="proc-cert"),
            ),
        )
        web.web_apps.create_or_update_host_name_binding(
            "proc",
            "proc",
            "proc.example.com",
            HostNameBinding(properties=HostNameBindingProperties(ssl_state="SniEnabled", thumbprint=cert.thumbprint)),
        )

    context = ssl.create_default_context(cafile=None)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", arm_stack.tls_port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname="proc.example.com") as tls,
    ):
        served = hashlib.sha1(tls.getpeercert(binary_form=True) or b"").hexdigest().upper()

    assert cert.key_vault_secret_status == "Succeeded"
    assert served == cert.thumbprint == pfx.thumbprint
