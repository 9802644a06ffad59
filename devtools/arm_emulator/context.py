"""What a request handler gets: the parsed request, and the emulator state shared by all threads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devtools.arm_emulator.errors import bad_request
from devtools.arm_emulator.keyvault import KeyVaultReader
from devtools.arm_emulator.long_running import LongRunning
from devtools.arm_emulator.routes import Target
from devtools.arm_emulator.store import ResourceStore
from devtools.kv_emulator.faults import FaultInjector, RequestCounters


@dataclass
class ArmState:
    store: ResourceStore
    key_vault: KeyVaultReader
    counters: RequestCounters
    faults: FaultInjector
    page_size: int
    # Management switch: False makes every Key Vault read fail as if App Service's principal
    # had no access policy / role on the vault.
    vault_access: bool = True
    fault_subscriptions: tuple[str, ...] | None = None
    # More Key Vault emulators ARM knows (`--extra-key-vault name=url`), by lower-cased vault resource id.
    other_vaults: dict[str, KeyVaultReader] = field(default_factory=dict)
    # Management switch: which long-running PUTs answer 202 + Azure-AsyncOperation (off: all at once).
    long_running: LongRunning = field(default_factory=LongRunning)

    def reader_for(self, vault_id: str, local_vault_id: str) -> KeyVaultReader | None:
        wanted = vault_id.rstrip("/").lower()
        return self.key_vault if wanted == local_vault_id.lower() else self.other_vaults.get(wanted)


@dataclass(frozen=True)
class ArmRequest:
    target: Target
    method: str
    path: str
    query: dict[str, str]
    raw_body: bytes
    base_url: str
    api_version: str
    if_match: str | None = None
    if_none_match: str | None = None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object, or ARM's InvalidRequestContent."""
        try:
            body = json.loads(self.raw_body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep to parse
            raise bad_request(
                "The request content was invalid and could not be deserialized.", "InvalidRequestContent"
            ) from None
        if not isinstance(body, dict):
            raise bad_request("The request content must be a JSON object.", "InvalidRequestContent")
        return body

    def properties(self, body: dict[str, Any]) -> dict[str, Any]:
        props = body.get("properties", {})
        if props is None:
            return {}
        if not isinstance(props, dict):
            raise bad_request("The 'properties' member must be a JSON object.", "InvalidRequestContent")
        return props
