"""The /_emulator/ surface: health, counters, reset and fault injection; no auth needed.

Not part of Key Vault: lives under a prefix real Key Vault never serves, so a client
talking to the emulator cannot reach it by accident.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from devtools.kv_emulator.faults import FaultInjector, FaultPlanError, RequestCounters, parse_fault_plan
from devtools.kv_emulator.secrets_api import OPERATION_NAMES
from devtools.kv_emulator.vault import SecretVault
from devtools.kv_emulator.wire import Reply

PREFIX = "/_emulator/"


@dataclass
class EmulatorState:
    """Everything a request may touch; shared by all handler threads."""

    vault: SecretVault
    counters: RequestCounters
    faults: FaultInjector


def handle(method: str, path: str, query: Mapping[str, str], body: bytes, state: EmulatorState) -> Reply:
    resource = path[len(PREFIX) :].strip("/")
    allowed = _METHODS.get(resource)
    if allowed is None:
        return _error(404, "NotFound", f"unknown management resource {PREFIX}{resource}")
    if method not in allowed:
        return Reply(405, _error_body("MethodNotAllowed", f"use {', '.join(allowed)}"), {"Allow": ", ".join(allowed)})

    if resource == "health":
        return Reply(200, {"status": "ok"})
    if resource == "counters":
        return Reply(200, state.counters.snapshot())
    if resource == "reset":
        state.counters.reset()
        clear_data = query.get("data", "").lower() in ("1", "true", "yes")
        if clear_data:
            state.vault.clear()
        return Reply(200, {"counters": "cleared", "data": "cleared" if clear_data else "kept"})
    # resource == "faults"
    if method == "GET":
        plan = state.faults.plan
        return Reply(200, {"plan": plan.to_json() if plan else None})
    if method == "DELETE":
        state.faults.clear()
        return Reply(204)
    try:
        plan = parse_fault_plan(json.loads(body.decode("utf-8") or "null"), OPERATION_NAMES)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:  # FaultPlanError is a ValueError
        message = str(err) if isinstance(err, FaultPlanError) else "the fault plan is not valid JSON"
        return _error(400, "BadParameter", message)
    state.faults.set(plan)
    return Reply(200, {"plan": plan.to_json()})


_METHODS: dict[str, tuple[str, ...]] = {
    "health": ("GET",),
    "counters": ("GET",),
    "reset": ("POST",),
    "faults": ("GET", "PUT", "DELETE"),
}


def _error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, _error_body(code, message))
