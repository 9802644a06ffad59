"""Storage queue clients from a binding's `connection`, looked up the way the WebJobs host does.

`connection="X"` reads app setting `AzureWebJobsX`, then `X` (so "AzureWebJobsStorage" and
"Storage" both work); a connection string, `UseDevelopmentStorage=true`, or an identity-based
`X__queueServiceUri` / `X__serviceUri` / `X__accountName` with the host's credential choice:
`X__credential=managedidentity` (with `X__clientId` or `X__managedIdentityResourceId` for a
user-assigned identity) is ManagedIdentityCredential, anything else DefaultAzureCredential.
Local addition: the `STORAGE_EMULATOR_CERT` app setting (a PEM file) is trusted for loopback
queue URIs, so an HTTPS Azurite with a self-signed certificate works; the real host trusts the
OS store instead.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.storage.queue import LinearRetry, QueueClient, QueueServiceClient

DEFAULT_CONNECTION = "Storage"
# Azurite's well-known development account (public, documented by Microsoft).
_DEV_ACCOUNT = "devstoreaccount1"
_DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
EMULATOR_CERT_SETTING = "STORAGE_EMULATOR_CERT"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _client_options() -> dict[str, Any]:
    """One quick retry: the SDK default (15 s, then 15+3^n s) would stall polling and shutdown
    whenever Azurite is down; the listener's own backoff already retries forever."""
    return {"retry_policy": LinearRetry(backoff=1, retry_total=1, random_jitter_range=0), "connection_timeout": 5}


class ConnectionSettingError(ValueError):
    """No app setting provides the binding's connection."""


def development_storage_connection(conn: str) -> str:
    """Expand `UseDevelopmentStorage=true[;DevelopmentStorageProxyUri=...]`, which the SDK does not."""
    parts = dict(p.split("=", 1) for p in conn.strip().rstrip(";").split(";") if "=" in p)
    proxy = parts.get("DevelopmentStorageProxyUri", "http://127.0.0.1").rstrip("/")
    return (
        f"DefaultEndpointsProtocol=http;AccountName={_DEV_ACCOUNT};AccountKey={_DEV_KEY};"
        f"BlobEndpoint={proxy}:10000/{_DEV_ACCOUNT};QueueEndpoint={proxy}:10001/{_DEV_ACCOUNT};"
    )


def _identity_endpoint(name: str, environ: Mapping[str, str]) -> str | None:
    for suffix in ("__queueServiceUri", "__serviceUri"):
        if environ.get(name + suffix):
            return environ[name + suffix]
    account = environ.get(name + "__accountName")
    return f"https://{account}.queue.core.windows.net" if account else None


def identity_credential(name: str, environ: Mapping[str, str]) -> TokenCredential:
    """The credential the host builds for the `name__*` section (Microsoft.Extensions.Azure's rules)."""
    client_id = environ.get(name + "__clientId") or None
    resource_id = environ.get(name + "__managedIdentityResourceId") or None
    if (environ.get(name + "__credential") or "").lower() == "managedidentity":
        if resource_id:
            return ManagedIdentityCredential(identity_config={"resource_id": resource_id})
        return ManagedIdentityCredential(client_id=client_id)
    return DefaultAzureCredential(managed_identity_client_id=client_id)


def emulator_trust(endpoint: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """`connection_verify` for a loopback endpoint when STORAGE_EMULATOR_CERT is set, else nothing."""
    cert = environ.get(EMULATOR_CERT_SETTING)
    if cert and (urlparse(endpoint).hostname or "") in _LOOPBACK:
        return {"connection_verify": cert}
    return {}


def create_service_client(connection: str | None, environ: Mapping[str, str] | None = None) -> QueueServiceClient:
    environ = os.environ if environ is None else environ
    name = connection or DEFAULT_CONNECTION
    for candidate in (f"AzureWebJobs{name}", name):
        value = environ.get(candidate)
        if value:
            if value.replace(" ", "").lower().startswith("usedevelopmentstorage=true"):
                value = development_storage_connection(value)
            return QueueServiceClient.from_connection_string(value, **_client_options())
        endpoint = _identity_endpoint(candidate, environ)
        if endpoint:
            credential = identity_credential(candidate, environ)
            options = {**_client_options(), **emulator_trust(endpoint, environ)}
            return QueueServiceClient(endpoint, credential=credential, **options)
    raise ConnectionSettingError(
        f"Storage account connection string 'AzureWebJobs{name}' does not exist. "
        f"Make sure that it is a defined App Setting (local.settings.json Values)."
    )


class QueueClients:
    """One service client per connection setting, shared by listeners and output bindings."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._services: dict[str, QueueServiceClient] = {}
        self._lock = threading.Lock()

    def queue(self, connection: str | None, queue_name: str) -> QueueClient:
        key = connection or DEFAULT_CONNECTION
        with self._lock:
            if key not in self._services:
                self._services[key] = create_service_client(connection, self._environ)
            return self._services[key].get_queue_client(queue_name)

    def close(self) -> None:
        with self._lock:
            for service in self._services.values():
                service.close()
            self._services.clear()
