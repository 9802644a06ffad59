"""Backup and restore as the SDK's own samples do them (sync and azure.keyvault.secrets.aio)."""

from __future__ import annotations

import asyncio
import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets.aio import SecretClient as AsyncSecretClient

from devtools.kv_emulator import EmulatorHandle
from shared.credentials import EmulatorCredential

from .support import RawVault


class AsyncEmulatorCredential:
    """What an azure.identity.aio credential looks like to the async client."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return EmulatorCredential().get_token(*scopes)

    async def close(self) -> None:
        return None


def test_backup_delete_purge_restore_brings_every_version_back(client: SecretClient) -> None:
    first = client.set_secret("bank", "one", content_type="text/plain")
    second = client.set_secret("bank", "two", tags={"team": "payments"})
    blob = client.backup_secret("bank")
    client.begin_delete_secret("bank").wait()
    client.purge_deleted_secret("bank")

    restored = client.restore_secret_backup(blob)

    assert restored.name == "bank"
    assert restored.version == second.properties.version
    assert client.get_secret("bank").value == "two"
    assert client.get_secret("bank", first.properties.version).properties.content_type == "text/plain"
    versions = {v.version for v in client.list_properties_of_secret_versions("bank")}
    assert versions == {first.properties.version, second.properties.version}


def test_restore_over_an_active_or_soft_deleted_name_is_a_conflict(client: SecretClient) -> None:
    client.set_secret("taken", "value")
    blob = client.backup_secret("taken")

    with pytest.raises(ResourceExistsError):
        client.restore_secret_backup(blob)
    client.begin_delete_secret("taken").wait()
    with pytest.raises(ResourceExistsError):
        client.restore_secret_backup(blob)


def test_backup_of_a_missing_or_deleted_secret_is_not_found(client: SecretClient) -> None:
    with pytest.raises(ResourceNotFoundError):
        client.backup_secret("never-was")
    client.set_secret("gone", "value")
    client.begin_delete_secret("gone").wait()
    with pytest.raises(ResourceNotFoundError):
        client.backup_secret("gone")


@pytest.mark.parametrize("blob", [b"garbage", base64.urlsafe_b64encode(b'{"kind": "other"}')])
def test_restore_of_a_blob_that_is_not_a_backup_is_bad_parameter(client: SecretClient, blob: bytes) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client.restore_secret_backup(blob)

    assert caught.value.status_code == 400
    assert caught.value.error is not None and caught.value.error.code == "BadParameter"


def test_restore_without_a_value_is_bad_parameter(raw: RawVault) -> None:
    response = raw.call("POST", "/secrets/restore", json={})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadParameter"


def test_async_client_backup_restore_as_the_async_sample(emulator: EmulatorHandle) -> None:
    async def sample() -> tuple[str | None, str | None]:
        credential = AsyncEmulatorCredential()
        async with AsyncSecretClient(
            emulator.url, credential, verify_challenge_resource=False, connection_verify=str(emulator.cert_path)
        ) as client:
            await client.set_secret("backupRestoreSecretNameAsync", "backupRestoreSecretValue")
            blob = await client.backup_secret("backupRestoreSecretNameAsync")
            await client.delete_secret("backupRestoreSecretNameAsync")
            await client.purge_deleted_secret("backupRestoreSecretNameAsync")
            restored = await client.restore_secret_backup(blob)
            value = (await client.get_secret("backupRestoreSecretNameAsync")).value
            names = [p.name async for p in client.list_properties_of_secrets()]
            return restored.name, value if names == [restored.name] else None

    # A loop of its own in a thread of its own: the browser tests' Playwright keeps one running in this thread.
    with ThreadPoolExecutor(max_workers=1) as thread:
        result = thread.submit(asyncio.run, sample()).result(timeout=60)
    assert result == ("backupRestoreSecretNameAsync", "backupRestoreSecretValue")
