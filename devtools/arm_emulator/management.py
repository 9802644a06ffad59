"""The /_emulator/ surface: health, counters, reset, fault injection, Key Vault access; no auth.

Not part of ARM: lives under a prefix ARM never serves. Fault plans are the Key Vault
emulator's, plus `subscriptions` to throttle only some subscriptions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from devtools.arm_emulator.context import ArmState
from devtools.arm_emulator.routes import operation_names
from devtools.kv_emulator.faults import FaultPlanError, parse_fault_plan
from devtools.kv_emulator.wire import Reply

PREFIX = "/_emulator/"

_METHODS: dict[str, tuple[str, ...]] = {
    "health": ("GET",),
    "counters": ("GET",),
    "reset": ("POST",),
    "faults": ("GET", "PUT", "DELETE"),
    "keyvault-access": ("GET", "PUT"),
}


def handle(
    method: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    state: ArmState,
    reseed: Callable[[], None],
) -> Reply:
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
            state.store.clear()
            state.vault_access = True
            reseed()
        return Reply(200, {"counters": "cleared", "data": "cleared" if clear_data else "kept"})
    if resource == "keyvault-access":
        return _vault_access(method, body, state)
    return _faults(method, body, state)


def _faults(method: str, body: bytes, state: ArmState) -> Reply:
    if method == "GET":
        plan = state.faults.plan
        rendered = {**plan.to_json(), "subscriptions": _list_or_none(state.fault_subscriptions)} if plan else None
        return Reply(200, {"plan": rendered})
    if method == "DELETE":
        state.faults.clear()
        state.fault_subscriptions = None
        return Reply(204)
    try:
        document = json.loads(body.decode("utf-8") or "null")
        subscriptions = _subscriptions(document)
        plan = parse_fault_plan(document, operation_names())
    except (UnicodeDecodeError, ValueError, RecursionError) as err:  # FaultPlanError is a ValueError
        message = str(err) if isinstance(err, FaultPlanError) else "the fault plan is not valid JSON"
        return _error(400, "BadParameter", message)
    state.faults.set(plan)
    state.fault_subscriptions = subscriptions
    return Reply(200, {"plan": {**plan.to_json(), "subscriptions": _list_or_none(subscriptions)}})


def _subscriptions(document: Any) -> tuple[str, ...] | None:
    """Take `subscriptions` out of the plan (the shared parser does not know it)."""
    if not isinstance(document, dict) or "subscriptions" not in document:
        return None
    value = document.pop("subscriptions")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise FaultPlanError("subscriptions must be a list of subscription ids")
    return tuple(s.lower() for s in value)


def _vault_access(method: str, body: bytes, state: ArmState) -> Reply:
    if method == "PUT":
        try:
            document = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError, RecursionError):
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("allowed"), bool):
            return _error(400, "BadParameter", 'send {"allowed": true|false}')
        state.vault_access = document["allowed"]
    return Reply(200, {"allowed": state.vault_access})


def _list_or_none(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values is not None else None


def _error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, _error_body(code, message))
