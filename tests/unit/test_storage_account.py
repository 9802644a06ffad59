"""AzureWebJobsStorage is read the way the Functions host reads it: a connection string, or
the identity-based `__` section; mistakes are refused at start with the setting's name."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import Settings, SettingsError
from shared.storage_account import StorageAccount, StorageIdentity

VAULT = {  # the other required app settings
    "KEY_VAULT_URL": "https://127.0.0.1:8443",
    "OPERATIONS_QUEUE": "certsync-operations",
    "AUTO_RENEW_SCHEDULE": "0 0 */8 * * *",
    "SYNC_SWEEP_SCHEDULE": "0 */15 * * * *",
}
CONN = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net"


@pytest.mark.parametrize(
    "env,table_url,queue_url,identity",
    [
        (
            {"AzureWebJobsStorage__accountName": "certsyncprod"},
            "https://certsyncprod.table.core.windows.net",
            "https://certsyncprod.queue.core.windows.net",
            StorageIdentity(managed_identity=False),
        ),
        (  # service URIs win over the account name; credential and names are case-insensitive
            {
                "AzureWebJobsStorage__accountName": "ignored",
                "AzureWebJobsStorage__tableServiceUri": "https://t.example.net/",
                "AzureWebJobsStorage__queueserviceuri": "https://q.example.net",
                "AzureWebJobsStorage__credential": "ManagedIdentity",
                "AzureWebJobsStorage__clientId": "client-1",
            },
            "https://t.example.net",
            "https://q.example.net",
            StorageIdentity(managed_identity=True, client_id="client-1"),
        ),
        (
            {
                "AzureWebJobsStorage__accountName": "acct",
                "AzureWebJobsStorage__credential": "managedidentity",
                "AzureWebJobsStorage__managedIdentityResourceId": "/subscriptions/s/rg/r/id",
            },
            "https://acct.table.core.windows.net",
            "https://acct.queue.core.windows.net",
            StorageIdentity(managed_identity=True, resource_id="/subscriptions/s/rg/r/id"),
        ),
        (  # a user-assigned client id without `credential` goes to DefaultAzureCredential
            {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__clientId": "client-2"},
            "https://acct.table.core.windows.net",
            "https://acct.queue.core.windows.net",
            StorageIdentity(managed_identity=False, client_id="client-2"),
        ),
    ],
)
def test_identity_based_forms(env, table_url, queue_url, identity):
    account = StorageAccount.from_env(env)
    assert (account.table_url, account.queue_url, account.identity) == (table_url, queue_url, identity)
    assert account.uses_identity and account.connection_string is None


def test_connection_string_wins_and_is_not_shown():
    account = Settings.from_env({**VAULT, "AzureWebJobsStorage": CONN, "AzureWebJobsStorage__accountName": "x"}).storage
    assert account.connection_string == CONN and not account.uses_identity and account.identity is None
    assert "a2V5" not in repr(account)


def test_emulator_certificate_is_trusted_only_for_loopback_uris():
    loopback = {
        "AzureWebJobsStorage__tableServiceUri": "https://127.0.0.1:10002/devstoreaccount1",
        "AzureWebJobsStorage__queueServiceUri": "https://127.0.0.1:10001/devstoreaccount1",
        "STORAGE_EMULATOR_CERT": "azurite.pem",
    }
    assert StorageAccount.from_env(loopback).trusted_cert == Path("azurite.pem")
    mixed = {**loopback, "AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net"}
    assert StorageAccount.from_env(mixed).trusted_cert is None
    assert StorageAccount.from_env({"AzureWebJobsStorage": CONN, "STORAGE_EMULATOR_CERT": "a.pem"}).trusted_cert is None


@pytest.mark.parametrize(
    "env,named",
    [
        ({}, "AzureWebJobsStorage is required"),
        ({"AzureWebJobsStorage": "  "}, "AzureWebJobsStorage is required"),
        ({"AzureWebJobsStorage__queueServiceUri": "https://q.example.net"}, "AzureWebJobsStorage__tableServiceUri"),
        ({"AzureWebJobsStorage__tableServiceUri": "https://t.example.net"}, "AzureWebJobsStorage__queueServiceUri"),
        ({"AzureWebJobsStorage__blobServiceUri": "https://b.example.net"}, "AzureWebJobsStorage__tableServiceUri"),
        ({"AzureWebJobsStorage__accountName": "Not_Valid"}, "AzureWebJobsStorage__accountName"),
        (
            {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__tableServiceUri": "http://t.example.net"},
            "AzureWebJobsStorage__tableServiceUri must be an https URL",
        ),
        (
            {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__credential": "clientsecret"},
            "AzureWebJobsStorage__credential must be managedidentity",
        ),
        (
            {
                "AzureWebJobsStorage__accountName": "acct",
                "AzureWebJobsStorage__credential": "managedidentity",
                "AzureWebJobsStorage__clientId": "c",
                "AzureWebJobsStorage__managedIdentityResourceId": "/r",
            },
            "set only one",
        ),
        (
            {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__managedIdentityResourceId": "/r"},
            "needs AzureWebJobsStorage__credential",
        ),
        (
            {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__clientSecret": "s"},
            "AzureWebJobsStorage__clientsecret is not supported",
        ),
    ],
)
def test_bad_storage_settings_are_refused_at_start(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({**VAULT, **env})


@pytest.mark.parametrize(
    "env",
    [
        {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__tableServiceUri": "http://t.example.net/?sig=S3CR3T"},
        {"AzureWebJobsStorage": CONN, "KEY_VAULT_URL": "http://vault.example.net/?sig=S3CR3T"},
        {"AzureWebJobsStorage": CONN, "ARM_ENDPOINT": "http://arm.example.net/S3CR3T"},
    ],
)
def test_a_refused_url_setting_is_shown_as_scheme_and_host(env):
    """The message is logged and answered by every endpoint (503): a SAS query or a path is not shown."""
    with pytest.raises(SettingsError, match=r"got 'http://\w+\.example\.net'") as refused:
        Settings.from_env({**VAULT, **env})
    assert "S3CR3T" not in str(refused.value)
