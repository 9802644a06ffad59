"""Reading a certificate's PFX out of Key Vault the way App Service's principal does.

Talks to the Key Vault emulator through its REST API with the official SecretClient (trusting
the emulator's self-signed certificate), and turns every outcome into a keyVaultSecretStatus.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from devtools.arm_emulator.pfx import CertificateFacts, PfxError, load_pfx
from devtools.arm_emulator.protocol import PFX_CONTENT_TYPE

log = logging.getLogger("devtools.arm_emulator")

SUCCEEDED = "Succeeded"
UNAUTHORIZED = "AzureServiceUnauthorizedToAccessKeyVault"
VAULT_MISSING = "KeyVaultDoesNotExist"
SECRET_MISSING = "KeyVaultSecretDoesNotExist"
UNKNOWN_ERROR = "UnknownError"


class AppServicePrincipalCredential:
    """Stands in for App Service's first-party identity; the Key Vault emulator takes any token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("app-service-principal", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo("app-service-principal", int(time.time()) + 3600)


@dataclass(frozen=True)
class SecretRead:
    status: str
    facts: CertificateFacts | None = None
    pfx: str | None = None
    reason: str = ""


class KeyVaultReader:
    """One SecretClient per vault URL; thread-safe enough for the emulator's request threads."""

    def __init__(self, vault_url: str | None, cert_path: Path | None) -> None:
        self.vault_url = vault_url.rstrip("/") if vault_url else None
        self._client = (
            SecretClient(
                self.vault_url,
                AppServicePrincipalCredential(),
                verify_challenge_resource=False,
                connection_verify=str(cert_path) if cert_path else True,
                retry_total=1,
            )
            if self.vault_url
            else None
        )

    def read(self, secret_name: str) -> SecretRead:
        if self._client is None:
            return SecretRead(VAULT_MISSING, reason="no Key Vault is configured for the emulator")
        try:
            secret = self._client.get_secret(secret_name)
        except ResourceNotFoundError:
            return SecretRead(SECRET_MISSING, reason="the secret does not exist")
        except HttpResponseError as err:
            if err.status_code == 403:  # Guess: a disabled secret (Forbidden/SecretDisabled) reads as missing
                return SecretRead(SECRET_MISSING, reason="the secret is disabled")
            log.info("Key Vault answered %s reading %s", err.status_code, secret_name)
            return SecretRead(UNKNOWN_ERROR, reason=f"Key Vault answered {err.status_code}")
        except AzureError as err:
            log.info("Key Vault unreachable reading %s: %s", secret_name, type(err).__name__)
            return SecretRead(UNKNOWN_ERROR, reason="Key Vault could not be reached")
        # Guess: the real enum has no value for these; App Service reports UnknownError.
        if (secret.properties.content_type or "").lower() != PFX_CONTENT_TYPE:
            return SecretRead(UNKNOWN_ERROR, reason=f"the secret's content type is not {PFX_CONTENT_TYPE}")
        try:
            facts, _ = load_pfx(secret.value or "")
        except PfxError as err:
            return SecretRead(UNKNOWN_ERROR, reason=str(err))
        return SecretRead(SUCCEEDED, facts=facts, pfx=secret.value)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
