"""The one place that turns a StorageAccount into Table and Queue SDK clients.

Connection string: the SDKs' own parsing. Identity-based: a token credential from
azure-identity, as the Functions host picks it (ManagedIdentityCredential when
`__credential = managedidentity`, else DefaultAzureCredential). The emulator's self-signed
certificate is trusted per client (`connection_verify`), and only for loopback endpoints.
"""
from __future__ import annotations

from typing import Any

from azure.core.credentials import TokenCredential
from azure.data.tables import TableServiceClient
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.storage.queue import QueueClient

from shared.dependencies import QUEUE, TABLE, response_hook
from shared.storage_account import StorageAccount, StorageIdentity


def storage_credential(identity: StorageIdentity) -> TokenCredential:
    if identity.managed_identity:
        if identity.resource_id:
            return ManagedIdentityCredential(identity_config={"resource_id": identity.resource_id})
        return ManagedIdentityCredential(client_id=identity.client_id)
    if identity.client_id:
        return DefaultAzureCredential(managed_identity_client_id=identity.client_id)
    return DefaultAzureCredential()


class StorageClients:
    """Builds the clients of one storage account; one credential shared by all of them."""

    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self._credential = storage_credential(account.identity) if account.identity else None

    def table_service(self, **options: Any) -> TableServiceClient:
        options.setdefault("raw_response_hook", response_hook(TABLE))
        if self.account.connection_string is not None:
            return TableServiceClient.from_connection_string(self.account.connection_string, **options)
        return TableServiceClient(self.account.table_url, credential=self._credential, **self._tls(options))

    def queue(self, queue_name: str, **options: Any) -> QueueClient:
        options.setdefault("raw_response_hook", response_hook(QUEUE))
        if self.account.connection_string is not None:
            return QueueClient.from_connection_string(self.account.connection_string, queue_name, **options)
        return QueueClient(self.account.queue_url, queue_name, credential=self._credential, **self._tls(options))

    def _tls(self, options: dict[str, Any]) -> dict[str, Any]:
        cert = self.account.trusted_cert
        return {**options, "connection_verify": str(cert)} if cert else options
