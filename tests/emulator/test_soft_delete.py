"""Soft delete, recover and purge through the SDK's pollers, with Key Vault's errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from devtools.kv_emulator import EmulatorHandle

from .support import RawVault


def test_begin_delete_returns_deleted_secret_with_dates(client: SecretClient, emulator: EmulatorHandle) -> None:
    created = client.set_secret("retired", "old-value")

    poller = client.begin_delete_secret("retired")
    deleted = poller.result()
    poller.wait()

    assert poller.done()
    assert deleted.name == "retired"
    assert deleted.id == created.id
    assert deleted.recovery_id == f"{emulator.url}/deletedsecrets/retired"
    assert deleted.deleted_date is not None
    assert deleted.scheduled_purge_date - deleted.deleted_date == timedelta(days=90)
    assert deleted.properties.recovery_level == "Recoverable+Purgeable"
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("retired")


def test_delete_response_has_no_value(client: SecretClient, raw: RawVault) -> None:
    client.set_secret("quiet", "never-echoed")

    body = raw.call("DELETE", "/secrets/quiet").json()

    assert "value" not in body
    assert {"recoveryId", "deletedDate", "scheduledPurgeDate", "id", "attributes"} <= set(body)


def test_get_and_list_deleted(client: SecretClient) -> None:
    client.set_secret("binned", "x", tags={"why": "test"})
    client.begin_delete_secret("binned").wait()

    deleted = client.get_deleted_secret("binned")
    listed = list(client.list_deleted_secrets())

    assert deleted.name == "binned"
    assert deleted.properties.tags == {"why": "test"}
    assert [d.name for d in listed] == ["binned"]
    assert listed[0].recovery_id == deleted.recovery_id
    assert listed[0].scheduled_purge_date == deleted.scheduled_purge_date


def test_deleted_name_cannot_be_set_until_purged(client: SecretClient) -> None:
    client.set_secret("taken", "x")
    client.begin_delete_secret("taken").wait()

    with pytest.raises(ResourceExistsError) as caught:
        client.set_secret("taken", "y")

    assert caught.value.status_code == 409
    assert caught.value.error.code == "Conflict"
    assert "is currently in a deleted but recoverable state" in caught.value.error.message

    client.purge_deleted_secret("taken")
    fresh = client.set_secret("taken", "y")
    assert [p.version for p in client.list_properties_of_secret_versions("taken")] == [fresh.properties.version]


def test_recover_restores_every_version(client: SecretClient) -> None:
    first = client.set_secret("comeback", "v1")
    second = client.set_secret("comeback", "v2")
    client.begin_delete_secret("comeback").wait()

    poller = client.begin_recover_deleted_secret("comeback")
    recovered = poller.result()
    poller.wait()

    assert recovered.name == "comeback"
    assert recovered.version == second.properties.version
    assert client.get_secret("comeback").value == "v2"
    assert client.get_secret("comeback", first.properties.version).value == "v1"
    assert list(client.list_deleted_secrets()) == []


def test_purge_is_204_and_final(client: SecretClient, raw: RawVault) -> None:
    client.set_secret("shredded", "x")
    client.begin_delete_secret("shredded").wait()

    response = raw.call("DELETE", "/deletedsecrets/shredded")

    assert response.status_code == 204
    assert response.content == b""
    with pytest.raises(ResourceNotFoundError) as caught:
        client.get_deleted_secret("shredded")
    assert caught.value.error.message == "Deleted Secret not found: shredded"
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("shredded")


def test_operations_on_wrong_state_are_not_found(client: SecretClient) -> None:
    client.set_secret("alive", "x")

    with pytest.raises(ResourceNotFoundError):
        client.purge_deleted_secret("alive")
    with pytest.raises(ResourceNotFoundError):
        client.begin_recover_deleted_secret("alive")
    with pytest.raises(ResourceNotFoundError):
        client.begin_delete_secret("never-existed")
    client.begin_delete_secret("alive").wait()
    with pytest.raises(ResourceNotFoundError):
        client.begin_delete_secret("alive")
    with pytest.raises(ResourceNotFoundError):
        client.update_secret_properties("alive", content_type="x")
