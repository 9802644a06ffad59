"""Vault rules that need a controllable clock: automatic purge after the retention period."""

from __future__ import annotations

import pytest

from devtools.kv_emulator.errors import SecretNotFound
from devtools.kv_emulator.vault import NewVersion, SecretVault

DAY = 24 * 3600


class FakeClock:
    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_deleted_secret_is_purged_by_itself_after_90_days() -> None:
    clock = FakeClock()
    vault = SecretVault(clock=clock)
    vault.set("short-lived", NewVersion(value="x"))
    deleted = vault.delete("short-lived")
    assert deleted.purge_on == deleted.deleted_on + 90 * DAY

    clock.now += 90 * DAY - 1
    assert vault.get_deleted("short-lived").name == "short-lived"

    clock.now += 1
    with pytest.raises(SecretNotFound):
        vault.get_deleted("short-lived")
    vault.set("short-lived", NewVersion(value="reborn"))  # the name is free again


def test_timestamps_are_whole_unix_seconds() -> None:
    vault = SecretVault(clock=FakeClock(1_700_000_000.75))

    _, version = vault.set("stamped", NewVersion(value="x"))

    assert version.created == version.updated == 1_700_000_000
