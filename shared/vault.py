"""Key Vault secrets adapter: the only door to Key Vault.

PFX files are stored as secrets (what App Service Key Vault references require):
content type application/x-pkcs12, base64 PKCS#12 without a password.
"""
from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.core.pipeline.policies import RetryPolicy
from azure.keyvault.secrets import SecretClient, SecretProperties

from shared.credentials import vault_credential
from shared.dependencies import KEY_VAULT, response_hook
from shared.errors import DependencyError, NotFound
from shared.settings import Settings

PFX_CONTENT_TYPE = "application/x-pkcs12"
# A DependencyError code: no Key Vault is at that address (the name does not resolve, nothing
# listens on the port, or what does is not a TLS server). One code for all three, so callers
# cannot tell a closed port from a name that does not exist.
VAULT_UNREACHABLE = "VaultUnreachable"
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


@dataclass(frozen=True)
class SecretVersion:
    """A secret version's metadata and (when fetched) value; repr hides the value."""

    name: str
    version: str
    id: str
    content_type: str | None
    enabled: bool
    updated_on: datetime | None
    created_on: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    value: str | None = field(default=None, repr=False)


def make_secret_client(settings: Settings, vault_url: str | None = None) -> SecretClient:
    url = vault_url or settings.key_vault_url
    options: dict = {}
    if settings.vault_is_local_emulator:
        # Trust the emulator's self-signed certificate, and only for a loopback vault.
        options["verify_challenge_resource"] = False
        if settings.key_vault_emulator_cert:
            options["connection_verify"] = str(settings.key_vault_emulator_cert)
    options["raw_response_hook"] = response_hook(KEY_VAULT)
    return SecretClient(url, vault_credential(settings), retry_policy=NoRetryWhereNoVault(), **options)


class NoRetryWhereNoVault(RetryPolicy):
    """The SDK's retries, except where no Key Vault can be: retrying a name that does not resolve
    or a port nobody listens on only turns the answer into a 5-second wait."""

    def increment(self, settings: dict, response: Any = None, error: Exception | None = None) -> bool:
        if isinstance(error, ServiceRequestError) and no_vault_there(error):
            return False
        return super().increment(settings, response=response, error=error)


def no_vault_there(error: BaseException) -> bool:
    """Does a failed connection say there is no Key Vault at the address? (NXDOMAIN, refused,
    or not TLS; a temporary DNS failure or a timeout is an outage, not an absence.)"""
    seen: set[int] = set()
    todo = [error]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, socket.gaierror):
            return err.errno in _NO_SUCH_NAME
        if isinstance(err, (ConnectionRefusedError, ssl.SSLError)):
            return True
        linked = (err.__cause__, err.__context__, getattr(err, "inner_exception", None), getattr(err, "reason", None))
        todo.extend(e for e in (*linked, *err.args) if isinstance(e, BaseException))
    return False


class Vault:
    """Thin wrapper that turns SDK objects and errors into ours."""

    def __init__(self, client: SecretClient) -> None:
        self.client = client

    @property
    def url(self) -> str:
        return self.client.vault_url

    def set_secret(
        self,
        name: str,
        value: str,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        not_before: datetime | None = None,
        expires_on: datetime | None = None,
    ) -> SecretVersion:
        """Write a new version; old versions stay untouched."""
        try:
            secret = self.client.set_secret(
                name, value, content_type=content_type, tags=tags, not_before=not_before, expires_on=expires_on
            )
        except AzureError as err:
            raise _dependency(err, f"writing secret {name}", self.url) from None
        return _version(secret.properties, secret.value)

    def get_secret(self, name: str, version: str | None = None) -> SecretVersion:
        try:
            secret = self.client.get_secret(name, version)
        except ResourceNotFoundError:
            what = f"version {version} of secret {name}" if version else f"secret {name}"
            raise NotFound(f"{what} was not found in Key Vault", code="SecretNotFound") from None
        except HttpResponseError as err:
            if err.status_code == 403:
                raise DependencyError(
                    f"secret {name} cannot be read: {_server_message(err)}", code="SecretForbidden", upstream_status=403
                ) from None
            raise _dependency(err, f"reading secret {name}", self.url) from None
        except AzureError as err:
            raise _dependency(err, f"reading secret {name}", self.url) from None
        return _version(secret.properties, secret.value)

    def list_secrets(self) -> Iterator[SecretVersion]:
        """Metadata of the latest version of every secret, 25 per page (no values)."""
        try:
            for props in self.client.list_properties_of_secrets(max_page_size=25):
                yield _version(props, None)
        except AzureError as err:
            raise _dependency(err, "listing secrets", self.url) from None

    def list_versions(self, name: str) -> Iterator[SecretVersion]:
        try:
            for props in self.client.list_properties_of_secret_versions(name, max_page_size=25):
                yield _version(props, None)
        except ResourceNotFoundError:
            raise NotFound(f"secret {name} was not found in Key Vault", code="SecretNotFound") from None
        except AzureError as err:
            raise _dependency(err, f"listing versions of secret {name}", self.url) from None

    def close(self) -> None:
        self.client.close()


def _version(props: SecretProperties, value: str | None) -> SecretVersion:
    return SecretVersion(
        name=props.name or "",
        version=props.version or "",
        id=props.id or "",
        content_type=props.content_type,
        enabled=bool(props.enabled),
        updated_on=props.updated_on,
        created_on=props.created_on,
        tags=dict(props.tags or {}),
        value=value,
    )


def _server_message(err: HttpResponseError) -> str:
    error = getattr(err, "error", None)
    return getattr(error, "message", None) or err.reason or "request failed"


def _code_for(status: int | None) -> str:
    """An outage is DependencyUnavailable; a 4xx answer (e.g. 400 for a value over the size
    limit) is the vault refusing the request, which shared.errors.classify never retries."""
    if status is None or status >= 500 or status in (408, 429):
        return "DependencyUnavailable"
    return "KeyVaultRefused"


def _dependency(err: AzureError, doing: str, vault_url: str) -> DependencyError:
    if isinstance(err, ServiceRequestError) and no_vault_there(err):
        return DependencyError(f"no Key Vault answers at {vault_url}", code=VAULT_UNREACHABLE)
    if isinstance(err, HttpResponseError):
        retry_after = None
        if err.response is not None:
            raw = getattr(err.response, "headers", {}).get("Retry-After")
            retry_after = float(raw) if raw and raw.isdigit() else None
        return DependencyError(
            f"Key Vault failed {doing} (HTTP {err.status_code}): {_server_message(err)}",
            code=_code_for(err.status_code),
            retry_after=retry_after,
            upstream_status=err.status_code,
        )
    return DependencyError(f"Key Vault unreachable while {doing}: {type(err).__name__}")
