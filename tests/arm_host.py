"""A function host that manages the ARM emulator's subscription, with the two SDK clients a user
drives ARM with (as the portal would): the setup the App Service e2e and browser tests share."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient

from devtools.arm_emulator import EmulatorHandle
from devtools.arm_emulator.keyvault import AppServicePrincipalCredential
from devtools.processes import env_only_host, free_port


@dataclass
class ArmHost:
    base_url: str  # the function host, http://127.0.0.1:<port>
    web: WebSiteManagementClient
    groups: ResourceManagementClient


@contextmanager
def arm_host(
    env: dict[str, str], arm: EmulatorHandle, subscription: str, name: str,
    tmp_path_factory: pytest.TempPathFactory, logs: Path,
) -> Iterator[ArmHost]:  # fmt: skip
    port = free_port()
    host = env_only_host(port, env, tmp_path_factory.mktemp(f"{name}-host"), log_path=logs / f"{name}-host.log")
    host.start()
    credential = AppServicePrincipalCredential()
    options = {"base_url": arm.url, "connection_verify": str(arm.cert_path)}
    web = WebSiteManagementClient(credential, subscription, **options)  # type: ignore[arg-type]
    groups = ResourceManagementClient(credential, subscription, **options)  # type: ignore[arg-type]
    try:
        host.wait_ready(90)
        yield ArmHost(f"http://127.0.0.1:{port}", web, groups)
    finally:
        web.close()
        groups.close()
        host.stop()
