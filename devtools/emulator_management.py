"""The /_emulator/ surface both emulators serve: health, counters, reset, fault injection; no auth.

Not part of Key Vault or ARM: it lives under a prefix neither service serves, so a client
talking to an emulator cannot reach it by accident. Each emulator adds what is its own (ARM:
throttling by subscription, Key Vault access) as extra resources or a faults handler of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devtools.emulator_http import Reply
from devtools.kv_emulator.faults import FaultInjector, FaultPlanError, RequestCounters, parse_fault_plan

PREFIX = "/_emulator/"
Resource = Callable[[str, Mapping[str, str], bytes], Reply]  # (method, query, body) -> reply


@dataclass(frozen=True)
class Management:
    """The shared resources plus the emulator's own; `clear_data` empties its store on reset?data=1."""

    counters: RequestCounters
    faults: FaultInjector
    operation_names: Callable[[], Iterable[str]]
    clear_data: Callable[[], None]
    extra: Mapping[str, tuple[tuple[str, ...], Resource]] = field(default_factory=dict)

    def handle(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> Reply:
        resources = {**self._standard(), **self.extra}
        name = path[len(PREFIX) :].strip("/")
        if name not in resources:
            return error(404, "NotFound", f"unknown management resource {PREFIX}{name}")
        allowed, resource = resources[name]
        if method not in allowed:
            listed = ", ".join(allowed)
            return Reply(405, error_body("MethodNotAllowed", f"use {listed}"), {"Allow": listed})
        return resource(method, query, body)

    def _standard(self) -> dict[str, tuple[tuple[str, ...], Resource]]:
        return {
            "health": (("GET",), lambda *_: Reply(200, {"status": "ok"})),
            "counters": (("GET",), lambda *_: Reply(200, self.counters.snapshot())),
            "reset": (("POST",), self._reset),
            "faults": (("GET", "PUT", "DELETE"), self._faults),
        }

    def _reset(self, method: str, query: Mapping[str, str], body: bytes) -> Reply:
        self.counters.reset()
        clear = query.get("data", "").lower() in ("1", "true", "yes")
        if clear:
            self.clear_data()
        return Reply(200, {"counters": "cleared", "data": "cleared" if clear else "kept"})

    def _faults(self, method: str, query: Mapping[str, str], body: bytes) -> Reply:
        if method == "GET":
            plan = self.faults.plan
            return Reply(200, {"plan": plan.to_json() if plan else None})
        if method == "DELETE":
            self.faults.clear()
            return Reply(204)
        try:
            plan = parse_fault_plan(json_document(body), self.operation_names())
        except ValueError as err:
            return fault_plan_refused(err)
        self.faults.set(plan)
        return Reply(200, {"plan": plan.to_json()})


def json_document(body: bytes) -> Any:
    """The body as JSON (null when empty); ValueError when it is not JSON."""
    try:
        return json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, RecursionError) as err:  # RecursionError: nested too deep to parse
        raise ValueError("not JSON") from err


def fault_plan_refused(err: ValueError) -> Reply:
    """The 400 for a PUT body that is not JSON or not a fault plan (FaultPlanError says why)."""
    message = str(err) if isinstance(err, FaultPlanError) else "the fault plan is not valid JSON"
    return error(400, "BadParameter", message)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def error(status: int, code: str, message: str) -> Reply:
    return Reply(status, error_body(code, message))
