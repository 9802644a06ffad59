"""The ARM emulator's /_emulator/ surface: the shared one (devtools.emulator_management), plus
`keyvault-access` (whether App Service may read the vault), `long-running` (which PUTs answer 202)
and fault plans that may name `subscriptions`, to throttle only some subscriptions. `reset?data=1`
re-seeds the local vault."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from devtools.arm_emulator.context import ArmState
from devtools.arm_emulator.long_running import PlanError, plan_reply
from devtools.arm_emulator.routes import operation_names
from devtools.emulator_http import Reply
from devtools.emulator_management import PREFIX, Management, error, fault_plan_refused, json_document
from devtools.kv_emulator.faults import FaultPlanError, parse_fault_plan

__all__ = ["PREFIX", "handle"]


def handle(
    method: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    state: ArmState,
    reseed: Callable[[], None],
) -> Reply:
    def clear_data() -> None:
        state.store.clear()
        state.vault_access = True
        reseed()

    extra = {
        "faults": (("GET", "PUT", "DELETE"), lambda m, _q, b: _faults(m, b, state)),
        "keyvault-access": (("GET", "PUT"), lambda m, _q, b: _vault_access(m, b, state)),
        "long-running": (("GET", "PUT", "DELETE"), lambda m, _q, b: _long_running(m, b, state)),
    }
    surface = Management(state.counters, state.faults, operation_names, clear_data, extra)
    return surface.handle(method, path, query, body)


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
        document = json_document(body)
        subscriptions = _subscriptions(document)
        plan = parse_fault_plan(document, operation_names())
    except ValueError as err:
        return fault_plan_refused(err)
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
            document = json_document(body)
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("allowed"), bool):
            return error(400, "BadParameter", 'send {"allowed": true|false}')
        state.vault_access = document["allowed"]
    return Reply(200, {"allowed": state.vault_access})


def _long_running(method: str, body: bytes, state: ArmState) -> Reply:
    try:
        document = json_document(body) if method == "PUT" else None
        return plan_reply(method, document, state.long_running)
    except ValueError as err:  # PlanError is a ValueError
        return error(400, "BadParameter", str(err) if isinstance(err, PlanError) else "the plan is not valid JSON")


def _list_or_none(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values is not None else None
