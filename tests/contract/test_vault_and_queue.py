"""The Key Vault and queue ports: versions, Key Vault's errors and listing rules, delivery."""
from __future__ import annotations

import pytest

from shared.errors import DependencyError, NotFound
from shared.queueing import parse_message
from tests.contract.conftest import Side


def test_versions_are_kept_and_the_latest_is_read(side: Side, unique: str) -> None:
    vault = side.ctx.vault
    name = f"contract-{unique}"
    first = vault.set_secret(name, "one", content_type="text/plain", tags={"operation": "op-1"})
    second = vault.set_secret(name, "two")
    assert first.version != second.version
    assert first.id == f"{vault.url}/secrets/{name}/{first.version}"
    latest = vault.get_secret(name)
    assert (latest.version, latest.value, latest.tags, latest.content_type) == (second.version, "two", {}, None)
    old = vault.get_secret(name, first.version)
    assert (old.value, old.tags, old.content_type, old.enabled) == ("one", {"operation": "op-1"}, "text/plain", True)
    assert old.updated_on is not None and old.updated_on.microsecond == 0  # whole seconds, as Key Vault reports


def test_names_ignore_case(side: Side, unique: str) -> None:
    side.ctx.vault.set_secret(f"Contract-{unique}", "v")
    assert side.ctx.vault.get_secret(f"contract-{unique}").value == "v"


def test_missing_secret_and_version_are_not_found(side: Side, unique: str) -> None:
    vault = side.ctx.vault
    with pytest.raises(NotFound) as caught:
        vault.get_secret(f"missing-{unique}")
    assert caught.value.code == "SecretNotFound"
    vault.set_secret(f"contract-{unique}", "v")
    with pytest.raises(NotFound) as version:
        vault.get_secret(f"contract-{unique}", "0" * 32)
    assert version.value.code == "SecretNotFound"


def test_version_listing_has_metadata_without_values(side: Side, unique: str) -> None:
    vault = side.ctx.vault
    name = f"contract-{unique}"
    written = [vault.set_secret(name, f"value-{i}", tags={"n": str(i)}) for i in range(3)]
    listed = {v.version: v for v in vault.list_versions(name)}
    assert set(listed) == {w.version for w in written}
    assert all(v.value is None for v in listed.values())
    assert {v.tags["n"] for v in listed.values()} == {"0", "1", "2"}
    assert list(vault.list_versions(f"missing-{unique}")) == []  # Key Vault lists nothing, no 404
    latest = [s for s in vault.list_secrets() if s.name == name]
    assert [(s.value, s.tags) for s in latest] == [(None, {"n": "2"})]


def test_a_disabled_version_cannot_be_read(side: Side, unique: str) -> None:
    vault = side.ctx.vault
    name = f"contract-{unique}"
    kept = vault.set_secret(name, "old")
    latest = vault.set_secret(name, "new")
    side.disable(name, latest.version)
    with pytest.raises(DependencyError) as caught:
        vault.get_secret(name)
    assert caught.value.code == "SecretForbidden"
    assert "new" not in caught.value.message
    assert [v.enabled for v in vault.list_versions(name) if v.version == latest.version] == [False]
    assert vault.get_secret(name, kept.version).value == "old"


def test_an_invalid_secret_name_is_refused(side: Side) -> None:
    with pytest.raises(DependencyError):
        side.ctx.vault.set_secret("not_a_valid_name", "v")


def test_enqueued_operations_reach_the_worker_and_delays_hide_them(side: Side, unique: str) -> None:
    side.ctx.queue.enqueue(f"now-{unique}")
    side.ctx.queue.enqueue(f"later-{unique}", delay_seconds=120)
    assert [parse_message(body) for body in side.visible_messages()] == [f"now-{unique}"]
