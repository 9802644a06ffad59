"""Identity-based storage, no connection string: the app's tables and queue against Azurite
over HTTPS with OAuth on, tokens from the local managed identity endpoint."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from devtools.identity_endpoint import DevelopmentTokenCredential, development_token
from shared.app_context import AppContext
from shared.model import CertificateStatus
from shared.settings import Settings
from tests.conftest import USER_ASSIGNED_CLIENT_ID, identity_app_env
from tests.integration.helpers import issued

STORAGE_RESOURCE = "https://storage.azure.com"


@pytest.fixture
def identity_ctx(oauth_storage, identity_endpoint, storage_and_vault, monkeypatch) -> Iterator:
    """Builds AppContexts from identity-based settings; the process gets App Service's
    IDENTITY_ENDPOINT/IDENTITY_HEADER, as a function app with a managed identity does."""
    _, vault_url, cert, _ = storage_and_vault
    for name, value in identity_endpoint.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    made: list[AppContext] = []

    def build(**overrides: str) -> AppContext:
        suffix = os.urandom(4).hex()
        env = identity_app_env(oauth_storage, identity_endpoint, vault_url, cert,
                               CERTSYNC_TABLE_PREFIX=f"i{suffix}", OPERATIONS_QUEUE=f"ops-{suffix}")
        env.update(overrides)
        env = {k: v for k, v in env.items() if v}
        assert "AzureWebJobsStorage" not in env and not any("AccountKey" in v for v in env.values())
        ctx = AppContext.from_settings(Settings.from_env(env))
        made.append(ctx)
        return ctx

    yield build
    for ctx in made:
        ctx.queue.close()


def test_certificate_issued_through_tables_and_queue_as_a_user_assigned_identity(
    identity_ctx, identity_endpoint, unique
):
    ctx = identity_ctx()
    asked_before = len(identity_endpoint.requests)
    cert = issued(ctx, f"id-{unique}", [f"id-{unique}.example.com"])  # tables, queue send/receive/delete
    assert cert.status is CertificateStatus.ISSUED
    assert ctx.certificates.get(cert.name).thumbprint == cert.thumbprint
    asked = identity_endpoint.requests[asked_before:]
    assert asked, "the app never asked the managed identity endpoint for a token"
    assert {(r.resource, r.client_id) for r in asked} == {(STORAGE_RESOURCE, USER_ASSIGNED_CLIENT_ID)}


def test_default_credential_chain_uses_the_system_assigned_identity(identity_ctx, identity_endpoint):
    ctx = identity_ctx(AzureWebJobsStorage__credential="", AzureWebJobsStorage__clientId="")
    asked_before = len(identity_endpoint.requests)
    ctx.store.ping()
    ctx.queue.enqueue("op-system")
    assert [m.content for m in ctx.queue.client.receive_messages()] == ['{"operationId": "op-system"}']
    assert {(r.resource, r.client_id) for r in identity_endpoint.requests[asked_before:]} == {(STORAGE_RESOURCE, None)}


class _TokenFor(DevelopmentTokenCredential):
    def __init__(self, resource: str) -> None:
        super().__init__()
        self.resource = resource

    def get_token(self, *scopes, **kwargs):
        token = super().get_token(*scopes, **kwargs)
        return type(token)(development_token(self.resource), token.expires_on)

    def get_token_info(self, *scopes, options=None):
        info = super().get_token_info(*scopes, options=options)
        return type(info)(development_token(self.resource), info.expires_on)


def test_azurite_checks_the_token_audience(oauth_storage):
    """The OAuth Azurite is not open to anyone: a Key Vault token is refused on both services."""
    uris, cert = oauth_storage.service_uris, str(oauth_storage.cert)
    table_url, queue_url = uris["AzureWebJobsStorage__tableServiceUri"], uris["AzureWebJobsStorage__queueServiceUri"]

    def list_both(credential) -> None:
        list(TableServiceClient(table_url, credential=credential, connection_verify=cert).list_tables())
        list(QueueServiceClient(queue_url, credential=credential, connection_verify=cert).list_queues())

    list_both(DevelopmentTokenCredential())
    with pytest.raises(ClientAuthenticationError):
        list(TableServiceClient(table_url, credential=_TokenFor("https://vault.azure.net"), connection_verify=cert)
             .list_tables())
    with pytest.raises(ClientAuthenticationError):
        list(QueueServiceClient(queue_url, credential=_TokenFor("https://vault.azure.net"), connection_verify=cert)
             .list_queues())
