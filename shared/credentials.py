"""Credentials: DefaultAzureCredential in Azure; a fixed development token for the local emulator."""
from __future__ import annotations

from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential
from azure.identity import DefaultAzureCredential

from shared.clock import epoch_ms, utcnow
from shared.settings import Settings


class EmulatorCredential:
    """The local Key Vault emulator accepts any bearer token after its challenge."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("certsync-local-development", epoch_ms(utcnow()) // 1000 + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        return AccessTokenInfo("certsync-local-development", epoch_ms(utcnow()) // 1000 + 3600)


def vault_credential(settings: Settings) -> TokenCredential:
    if settings.vault_is_local_emulator:
        return EmulatorCredential()
    return DefaultAzureCredential()
