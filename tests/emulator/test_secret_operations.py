"""Set, get, versions, update and the errors around them, through the official SecretClient."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from devtools.kv_emulator import EmulatorHandle

VERSION = re.compile(r"^[0-9a-f]{32}$")


def _whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def test_set_then_get_returns_value_id_and_real_attributes(client: SecretClient, emulator: EmulatorHandle) -> None:
    created = client.set_secret("db-password", "s3cr3t")

    assert created.value == "s3cr3t"
    assert created.id == f"{emulator.url}/secrets/db-password/{created.properties.version}"
    assert VERSION.match(created.properties.version)
    assert created.properties.vault_url == emulator.url
    assert created.properties.enabled is True
    assert created.properties.recovery_level == "Recoverable+Purgeable"
    assert created.properties.recoverable_days == 90
    assert created.properties.created_on == created.properties.updated_on
    assert abs(created.properties.created_on - datetime.now(UTC)) < timedelta(seconds=5)

    fetched = client.get_secret("db-password")
    assert fetched.value == "s3cr3t"
    assert fetched.id == created.id


def test_set_keeps_content_type_tags_and_dates(client: SecretClient) -> None:
    not_before = _whole_seconds(datetime.now(UTC) - timedelta(days=1))
    expires = _whole_seconds(datetime.now(UTC) + timedelta(days=30))

    client.set_secret(
        "pfx",
        "MIIK...",
        content_type="application/x-pkcs12",
        tags={"thumbprint": "ABC123", "owner": "certsync"},
        not_before=not_before,
        expires_on=expires,
    )

    properties = client.get_secret("pfx").properties
    assert properties.content_type == "application/x-pkcs12"
    assert properties.tags == {"thumbprint": "ABC123", "owner": "certsync"}
    assert properties.not_before == not_before
    assert properties.expires_on == expires


def test_every_set_is_a_new_version_and_old_versions_stay_readable(client: SecretClient) -> None:
    first = client.set_secret("rotating", "one")
    second = client.set_secret("rotating", "two", content_type="text/plain")

    assert first.properties.version != second.properties.version
    assert client.get_secret("rotating").value == "two"
    old = client.get_secret("rotating", first.properties.version)
    assert old.value == "one"
    assert old.properties.content_type is None


def test_list_versions_has_every_version_in_creation_order(client: SecretClient) -> None:
    written = [client.set_secret("multi", f"v{i}").properties.version for i in range(3)]

    listed = list(client.list_properties_of_secret_versions("multi"))

    assert [p.version for p in listed] == written
    assert all(p.name == "multi" for p in listed)
    assert all(p.id.endswith(f"/secrets/multi/{p.version}") for p in listed)


def test_list_versions_of_unknown_secret_is_empty(client: SecretClient) -> None:
    assert list(client.list_properties_of_secret_versions("nobody")) == []


def test_update_properties_changes_metadata_not_value(client: SecretClient) -> None:
    created = client.set_secret("tuned", "keep-me", tags={"a": "1"})
    expires = _whole_seconds(datetime.now(UTC) + timedelta(days=7))

    updated = client.update_secret_properties(
        "tuned", created.properties.version, content_type="text/plain", tags={"b": "2"}, expires_on=expires
    )

    assert updated.version == created.properties.version
    assert updated.content_type == "text/plain"
    assert updated.tags == {"b": "2"}
    assert updated.expires_on == expires
    assert updated.updated_on >= updated.created_on
    fetched = client.get_secret("tuned")
    assert fetched.value == "keep-me"
    assert fetched.properties.tags == {"b": "2"}


def test_update_without_version_targets_latest(client: SecretClient) -> None:
    client.set_secret("latest-only", "old")
    newest = client.set_secret("latest-only", "new")

    updated = client.update_secret_properties("latest-only", content_type="application/json")

    assert updated.version == newest.properties.version
    assert updated.content_type == "application/json"


def test_disabled_version_refuses_get_with_real_error(client: SecretClient) -> None:
    created = client.set_secret("switched-off", "hidden")
    client.update_secret_properties("switched-off", created.properties.version, enabled=False)

    with pytest.raises(HttpResponseError) as caught:
        client.get_secret("switched-off")

    assert caught.value.status_code == 403
    assert caught.value.error.code == "Forbidden"
    assert caught.value.error.message == "Operation get is not allowed on a disabled secret."
    # Still listed, and re-enabling through update works.
    assert [p.enabled for p in client.list_properties_of_secret_versions("switched-off")] == [False]
    client.update_secret_properties("switched-off", created.properties.version, enabled=True)
    assert client.get_secret("switched-off").value == "hidden"


def test_set_disabled_secret_is_listed_but_not_readable(client: SecretClient) -> None:
    client.set_secret("born-disabled", "x", enabled=False)

    with pytest.raises(HttpResponseError) as caught:
        client.get_secret("born-disabled")

    assert caught.value.status_code == 403
    assert [p.name for p in client.list_properties_of_secrets()] == ["born-disabled"]


def test_unknown_secret_and_version_are_secret_not_found(client: SecretClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        client.get_secret("missing")
    assert caught.value.error.code == "SecretNotFound"
    assert caught.value.error.message.startswith("A secret with (name/id) missing was not found in this key vault.")

    client.set_secret("present", "x")
    with pytest.raises(ResourceNotFoundError) as caught:
        client.get_secret("present", "0" * 32)
    assert caught.value.error.code == "SecretNotFound"
    assert f"present/{'0' * 32}" in caught.value.error.message


def test_names_are_case_insensitive_and_keep_first_spelling(client: SecretClient) -> None:
    client.set_secret("Mixed-Case", "one")
    client.set_secret("mixed-case", "two")

    fetched = client.get_secret("MIXED-CASE")

    assert fetched.value == "two"
    assert fetched.name == "Mixed-Case"
    assert len(list(client.list_properties_of_secret_versions("mixed-CASE"))) == 2


@pytest.mark.parametrize("name", ["bad_name", "dots.not.allowed", "x" * 128])
def test_invalid_names_are_bad_parameter(client: SecretClient, name: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client.set_secret(name, "x")

    assert caught.value.status_code == 400
    assert caught.value.error.code == "BadParameter"
    assert caught.value.error.message == f"The request URI contains an invalid name: {name}"


def test_value_limit_is_25600_characters(client: SecretClient) -> None:
    assert client.set_secret("at-limit", "a" * 25600).value == "a" * 25600

    with pytest.raises(HttpResponseError) as caught:
        client.set_secret("over-limit", "a" * 25601)

    assert caught.value.status_code == 400
    assert caught.value.error.code == "BadParameter"
    assert "maximum permitted length of 25600 characters" in caught.value.error.message
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("over-limit")


def test_value_limit_counts_utf16_units_like_the_service(client: SecretClient) -> None:
    # 12,801 emoji are 25,602 UTF-16 code units: too large for Key Vault though only 12,801 code points.
    with pytest.raises(HttpResponseError) as caught:
        client.set_secret("emoji", "\U0001f512" * 12801)
    assert caught.value.status_code == 400


def test_values_round_trip_unicode(client: SecretClient) -> None:
    assert client.set_secret("unicode", "päss wörd ✓ \U0001f512").value == "päss wörd ✓ \U0001f512"
    assert client.get_secret("unicode").value == "päss wörd ✓ \U0001f512"
