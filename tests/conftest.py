"""Session fixtures: the real local stack on free ports (Azurite in memory, the Key Vault
emulator, the local function host), shared by the integration and end-to-end tests."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from azure.keyvault.secrets import SecretClient

from devtools.arm_emulator.resources import local_vault_id
from devtools.identity_endpoint import IdentityEndpoint
from devtools.kv_emulator.tls import ensure_certificate
from devtools.processes import (
    app_settings,
    arm_emulator,
    azurite,
    env_only_host,
    free_dns_port,
    free_port,
    key_vault_emulator,
    storage_connection_string,
    storage_service_uris,
)
from shared.app_context import AppContext
from shared.credentials import EmulatorCredential
from shared.settings import Settings

USER_ASSIGNED_CLIENT_ID = "5d1b4c3a-0000-4000-8000-00000000a551"
SECOND_VAULT_NAME = "second"


@dataclass
class Stack:
    storage_connection: str
    vault_url: str
    vault_cert: Path
    app_url: str
    env: dict[str, str]
    logs: Path

    def settings_env(self) -> dict[str, str]:
        return dict(self.env)


@pytest.fixture(scope="session")
def storage_and_vault(tmp_path_factory) -> Iterator[tuple[str, str, Path, Path]]:
    """Azurite (in memory) and the Key Vault emulator (in memory) on free ports."""
    if os.environ.get("CERTSYNC_FAST_RING"):
        pytest.fail("the fast ring (make test-unit) starts no emulator: mark this test `emulators` or use tests/fakes")
    base = tmp_path_factory.mktemp("stack")
    logs = base / "logs"
    logs.mkdir()
    blob, queue, table, kv = free_port(), free_port(), free_port(), free_port()
    services = [
        azurite(blob, queue, table, base / "azurite", in_memory=True, log_path=logs / "azurite.log"),
        key_vault_emulator(kv, None, base / "tls", log_path=logs / "keyvault.log"),
    ]
    try:
        for service in services:
            service.start()
        for service in services:
            service.wait_ready()
        cert = base / "tls" / "emulator-cert.pem"
        deadline = time.monotonic() + 10
        while not cert.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield storage_connection_string(blob, queue, table), f"https://127.0.0.1:{kv}", cert, logs
    finally:
        for service in services:
            service.stop()


app_env = app_settings  # the name the tests use


@dataclass
class SecondVault:
    """Another Key Vault emulator serving the first one's certificate (one KEY_VAULT_EMULATOR_CERT trusts
    both), for KEY_VAULT_URLS; known to the ARM emulator (arm_stack) as the vault `second`."""

    url: str
    resource_id: str

    def settings(self) -> dict[str, str]:
        return {"KEY_VAULT_URLS": self.url, "KEY_VAULT_RESOURCE_IDS": self.resource_id}

    def client(self, cert: Path):
        return SecretClient(self.url, EmulatorCredential(), verify_challenge_resource=False,
                            connection_verify=str(cert))


@pytest.fixture(scope="session")
def second_vault(storage_and_vault) -> Iterator[SecondVault]:
    _, _, cert, logs = storage_and_vault
    port = free_port()
    service = key_vault_emulator(port, None, cert.parent, log_path=logs / "keyvault-second.log")
    service.start()
    try:
        service.wait_ready()
        yield SecondVault(f"https://127.0.0.1:{port}", local_vault_id(SECOND_VAULT_NAME))
    finally:
        service.stop()


@dataclass
class ArmStack:
    url: str  # ARM API (any bearer token); subscription 11111111-1111-1111-1111-111111111111 as in `make run`
    tls_port: int  # the TLS front: the certificate each SSL-bound hostname serves, by SNI
    cert: Path  # trust this for both
    dns_port: int = 0  # the emulator's DNS server for its dnsZones (UDP and TCP): point Pebble here


@pytest.fixture(scope="session")
def arm_stack(storage_and_vault, second_vault, tmp_path_factory) -> Iterator[ArmStack]:
    """The ARM emulator as a process on free ports, importing certificates from the stack's Key Vault
    emulator (the vault `local`) and the second one (`second`)."""
    _, vault_url, vault_cert, logs = storage_and_vault
    base = tmp_path_factory.mktemp("arm")
    port, tls_port, dns_port = free_port(), free_port(), free_dns_port()
    service = arm_emulator(
        port, tls_port, None, base, vault_url, vault_cert, log_path=logs / "arm.log", dns_port=dns_port,
        extra_vaults={SECOND_VAULT_NAME: second_vault.url},
    )
    service.start()
    try:
        service.wait_ready()
        yield ArmStack(f"https://127.0.0.1:{port}", tls_port, base / "emulator-cert.pem", dns_port)
    finally:
        service.stop()


@dataclass
class OAuthStorage:
    """Azurite over HTTPS with OAuth on: identity-based settings and the certificate to trust."""

    service_uris: dict[str, str]
    cert: Path


@pytest.fixture(scope="session")
def oauth_storage(tmp_path_factory) -> Iterator[OAuthStorage]:
    """A second Azurite (in memory) serving HTTPS with `--oauth basic`, on free ports."""
    base = tmp_path_factory.mktemp("oauth-azurite")
    tls = ensure_certificate(base / "tls")
    blob, queue, table = free_port(), free_port(), free_port()
    service = azurite(blob, queue, table, base / "data", in_memory=True, log_path=base / "azurite.log", tls=tls)
    service.start()
    try:
        service.wait_ready()
        yield OAuthStorage(storage_service_uris(blob, queue, table), tls.cert_path)
    finally:
        service.stop()


@pytest.fixture(scope="session")
def identity_endpoint() -> Iterator[IdentityEndpoint]:
    """The App Service managed identity endpoint, with one user-assigned identity."""
    endpoint = IdentityEndpoint(user_assigned=frozenset({USER_ASSIGNED_CLIENT_ID})).start()
    yield endpoint
    endpoint.stop()


def identity_app_env(oauth: OAuthStorage, endpoint: IdentityEndpoint, vault_url: str, vault_cert: Path,
                     **overrides: str) -> dict[str, str]:
    """App settings with identity-based storage (a user-assigned managed identity) and no
    connection string anywhere."""
    env = app_env("", vault_url, vault_cert, **oauth.service_uris, **endpoint.environment())
    del env["AzureWebJobsStorage"]
    env.update({
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": USER_ASSIGNED_CLIENT_ID,
        "STORAGE_EMULATOR_CERT": str(oauth.cert),
    })
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def stack(storage_and_vault, tmp_path_factory) -> Iterator[Stack]:
    """The function app on our local host, talking to the emulators over real HTTP."""
    connection, vault_url, cert, logs = storage_and_vault
    port = free_port()
    env = app_env(connection, vault_url, cert)
    host = env_only_host(port, env, tmp_path_factory.mktemp("host"), log_path=logs / "host.log")
    host.start()
    try:
        host.wait_ready(90)
        yield Stack(connection, vault_url, cert, f"http://127.0.0.1:{port}", env, logs)
    finally:
        host.stop()


class Api:
    """A tiny JSON client for the app's HTTP API."""

    def __init__(self, base: str, key: str | None = None) -> None:
        self.base = base
        self.http = requests.Session()
        if key:
            self.http.headers["x-functions-key"] = key  # a host that enforces function keys

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None, **kw: Any) -> requests.Response:
        data = raw if raw is not None else None
        return self.http.request(method, f"{self.base}/api/{path.lstrip('/')}", json=body if raw is None else None, data=data, timeout=30, **kw)

    def wait_operation(self, response: requests.Response, timeout: float = 60) -> dict:
        assert response.status_code == 202, response.text
        location = response.headers["Location"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            op = self.http.get(f"{self.base}{location}", timeout=30).json()
            if op["status"] in ("Succeeded", "Failed"):
                return op
            time.sleep(0.1)
        raise AssertionError(f"operation {location} did not finish in {timeout}s: {op}")


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack.app_url)


@pytest.fixture(scope="session")
def secret_client(storage_and_vault):
    _, vault_url, cert, _ = storage_and_vault
    client = SecretClient(vault_url, EmulatorCredential(), verify_challenge_resource=False, connection_verify=str(cert))
    yield client
    client.close()


@pytest.fixture
def make_ctx(storage_and_vault):
    connection, vault_url, cert, _ = storage_and_vault
    made: list[AppContext] = []

    def build(dns: Any = None, **overrides: str) -> AppContext:
        """A context on fresh tables and queue; `dns` wires in a DNS double (tests/acme)."""
        suffix = os.urandom(4).hex()
        env = app_env(connection, vault_url, cert, CERTSYNC_TABLE_PREFIX=f"t{suffix}", OPERATIONS_QUEUE=f"ops-{suffix}")
        env.update(overrides)
        ctx = AppContext.from_settings(Settings.from_env(env), dns=dns)
        made.append(ctx)
        return ctx

    yield build
    for ctx in made:
        ctx.queue.close()


@pytest.fixture
def ctx(make_ctx) -> AppContext:
    return make_ctx()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for names, so tests sharing the session stack never collide."""
    return os.urandom(3).hex()
