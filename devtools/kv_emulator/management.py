"""The Key Vault emulator's /_emulator/ surface: the shared one (devtools.emulator_management);
`reset?data=1` empties the vault."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from devtools.emulator_http import Reply
from devtools.emulator_management import PREFIX, Management
from devtools.kv_emulator.faults import FaultInjector, RequestCounters
from devtools.kv_emulator.secrets_api import OPERATION_NAMES
from devtools.kv_emulator.vault import SecretVault

__all__ = ["PREFIX", "EmulatorState", "handle"]


@dataclass
class EmulatorState:
    """Everything a request may touch; shared by all handler threads."""

    vault: SecretVault
    counters: RequestCounters
    faults: FaultInjector


def handle(method: str, path: str, query: Mapping[str, str], body: bytes, state: EmulatorState) -> Reply:
    surface = Management(state.counters, state.faults, lambda: OPERATION_NAMES, state.vault.clear)
    return surface.handle(method, path, query, body)
