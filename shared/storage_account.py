"""How the app reaches its storage account, read from AzureWebJobsStorage the way the
Functions host reads it.

Either a connection string in `AzureWebJobsStorage`, or the identity-based form: the section
`AzureWebJobsStorage__*` with `tableServiceUri` / `queueServiceUri` (or `accountName`, which
implies `https://<name>.<service>.core.windows.net`), `credential=managedidentity` and
`clientId` / `managedIdentityResourceId` for a user-assigned identity. A connection string
wins when both are present, as in the host. Setting names are case-insensitive, as in the host.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from shared.loopback import is_loopback_url
from shared.notify.targets import redact

CONNECTION = "AzureWebJobsStorage"
EMULATOR_CERT_SETTING = "STORAGE_EMULATOR_CERT"
_ACCOUNT_NAME = re.compile(r"[a-z0-9]{3,24}")
_UNSUPPORTED = ("clientsecret", "certificate", "tenantid")  # the host's service-principal forms


class StorageSettingError(ValueError):
    """The storage connection settings are missing, contradictory or malformed."""


@dataclass(frozen=True)
class StorageIdentity:
    """Which identity the storage clients authenticate as."""

    managed_identity: bool  # True: ManagedIdentityCredential; False: DefaultAzureCredential
    client_id: str | None = None
    resource_id: str | None = None


@dataclass(frozen=True)
class StorageAccount:
    connection_string: str | None = field(default=None, repr=False)  # holds the account key
    table_url: str = ""
    queue_url: str = ""
    identity: StorageIdentity | None = None
    emulator_cert: Path | None = None  # trusted only for loopback service URIs

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None

    @property
    def trusted_cert(self) -> Path | None:
        """The emulator's certificate, when every identity-based endpoint is loopback."""
        urls = (self.table_url, self.queue_url)
        if self.uses_identity and self.emulator_cert and all(is_loopback_url(u) for u in urls):
            return self.emulator_cert
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StorageAccount:
        connection = env.get(CONNECTION, "").strip()
        if connection:
            return cls(connection_string=connection)
        section = _section(env)
        if not section:
            raise StorageSettingError(
                f"app setting {CONNECTION} is required: a connection string, or the identity-based "
                f"{CONNECTION}__accountName (or __tableServiceUri and __queueServiceUri)"
            )
        cert = env.get(EMULATOR_CERT_SETTING, "").strip()
        return cls(
            table_url=_service_url(section, "table"),
            queue_url=_service_url(section, "queue"),
            identity=_identity(section),
            emulator_cert=Path(cert) if cert else None,
        )


def _section(env: Mapping[str, str]) -> dict[str, str]:
    prefix = (CONNECTION + "__").lower()
    return {
        key[len(prefix):].lower(): value.strip()
        for key, value in env.items()
        if key.lower().startswith(prefix) and value.strip()
    }


def _service_url(section: Mapping[str, str], service: str) -> str:
    explicit = section.get(f"{service}serviceuri")
    if explicit:
        parsed = urlparse(explicit)
        if parsed.scheme != "https" or not parsed.hostname:
            raise StorageSettingError(
                f"app setting {CONNECTION}__{service}ServiceUri must be an https URL (identity-based "
                f"connections send a bearer token), got {redact(explicit)!r}"
            )
        return explicit.rstrip("/")
    account = section.get("accountname")
    if account is None:
        raise StorageSettingError(
            f"app setting {CONNECTION}__{service}ServiceUri (or {CONNECTION}__accountName) is required: "
            f"certsync uses the {service} service"
        )
    if not _ACCOUNT_NAME.fullmatch(account):
        raise StorageSettingError(
            f"app setting {CONNECTION}__accountName must be 3 to 24 lowercase letters and digits, got {account[:40]!r}"
        )
    return f"https://{account}.{service}.core.windows.net"


def _identity(section: Mapping[str, str]) -> StorageIdentity:
    for name in _UNSUPPORTED:
        if name in section:
            raise StorageSettingError(
                f"app setting {CONNECTION}__{name} is not supported: use a managed identity "
                f"({CONNECTION}__credential = managedidentity) or a connection string"
            )
    credential = section.get("credential")
    client_id = section.get("clientid")
    resource_id = section.get("managedidentityresourceid")
    if credential is not None and credential.lower() != "managedidentity":
        raise StorageSettingError(
            f"app setting {CONNECTION}__credential must be managedidentity (or unset for the default "
            f"Azure credential chain), got {credential[:40]!r}"
        )
    if client_id and resource_id:
        raise StorageSettingError(
            f"app settings {CONNECTION}__clientId and {CONNECTION}__managedIdentityResourceId "
            "name two identities; set only one"
        )
    if resource_id and credential is None:
        raise StorageSettingError(
            f"app setting {CONNECTION}__managedIdentityResourceId needs {CONNECTION}__credential = managedidentity"
        )
    return StorageIdentity(credential is not None, client_id, resource_id)
