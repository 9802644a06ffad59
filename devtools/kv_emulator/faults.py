"""Fault injection and request counters, driven through /_emulator/ by tests and benches.

Faults hit authenticated Key Vault operations only, never the 401 handshake: real Key Vault
throttles per caller, and a caller is only known once it has presented a token.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from devtools.kv_emulator.errors import InjectedFault

CHALLENGE = "challenge"
FAULT = "fault"
UNKNOWN = "unknown"  # paths and methods the Secrets API does not have
TOTAL = "total"


@dataclass(frozen=True)
class FaultPlan:
    """What to inject. `count` caps how many errors are injected before the plan clears."""

    status: int | None = None
    rate: float = 1.0
    retry_after: int | None = None
    latency_ms: int = 0
    operations: tuple[str, ...] | None = None
    count: int | None = None
    seed: int | None = None

    def applies_to(self, operation: str) -> bool:
        return self.operations is None or operation in self.operations

    def to_json(self) -> dict[str, Any]:
        rendered = asdict(self)
        return {
            "status": rendered["status"],
            "rate": rendered["rate"],
            "retryAfter": rendered["retry_after"],
            "latencyMs": rendered["latency_ms"],
            "operations": list(self.operations) if self.operations is not None else None,
            "count": rendered["count"],
            "seed": rendered["seed"],
        }


class FaultPlanError(ValueError):
    """The PUT /_emulator/faults body is not a valid plan."""


def parse_fault_plan(body: Any, known_operations: Iterable[str]) -> FaultPlan:
    if not isinstance(body, dict):
        raise FaultPlanError("the fault plan must be a JSON object")
    unknown_fields = set(body) - {"status", "rate", "retryAfter", "latencyMs", "operations", "count", "seed"}
    if unknown_fields:
        raise FaultPlanError(f"unknown fields: {', '.join(sorted(unknown_fields))}")
    status = _optional_int(body, "status", 400, 599)
    latency_ms = _optional_int(body, "latencyMs", 0, 600_000) or 0
    if status is None and latency_ms == 0:
        raise FaultPlanError("give a status (400..599) and/or latencyMs > 0")
    rate = body.get("rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise FaultPlanError("rate must be a number between 0.0 and 1.0")
    operations = body.get("operations")
    if operations is not None:
        known = set(known_operations)
        if not isinstance(operations, list) or not all(isinstance(op, str) for op in operations):
            raise FaultPlanError("operations must be a list of operation names")
        if set(operations) - known:
            raise FaultPlanError(
                f"unknown operations: {', '.join(sorted(set(operations) - known))}; known: {', '.join(sorted(known))}"
            )
        operations = tuple(operations)
    retry_after = _optional_int(body, "retryAfter", 0, 86_400)
    if retry_after is None and status in (429, 503):
        retry_after = 1  # real Key Vault always tells a throttled caller when to come back
    return FaultPlan(
        status=status,
        rate=float(rate),
        retry_after=retry_after,
        latency_ms=latency_ms,
        operations=operations,
        count=_optional_int(body, "count", 1, 1_000_000),
        seed=_optional_int(body, "seed", -(2**63), 2**63 - 1),
    )


def _optional_int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultPlanError(f"{name} must be an integer between {low} and {high}")
    return value


@dataclass(frozen=True)
class FaultDecision:
    latency_s: float
    error: InjectedFault | None


_NO_FAULT = FaultDecision(0.0, None)


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan: FaultPlan | None = None
        self._remaining: int | None = None
        self._random = random.Random()

    @property
    def plan(self) -> FaultPlan | None:
        return self._plan

    def set(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan = plan
            self._remaining = plan.count
            self._random = random.Random(plan.seed)

    def clear(self) -> None:
        with self._lock:
            self._plan = None
            self._remaining = None

    def decide(self, operation: str) -> FaultDecision:
        with self._lock:
            plan = self._plan
            if plan is None or not plan.applies_to(operation):
                return _NO_FAULT
            error = None
            if plan.status is not None and self._random.random() < plan.rate:
                error = InjectedFault(plan.status, plan.retry_after)
                if self._remaining is not None:
                    self._remaining -= 1
                    if self._remaining <= 0:
                        self._plan = None
            return FaultDecision(plan.latency_ms / 1000.0, error)


class RequestCounters:
    """Requests per operation name, plus 401 challenges, unroutable requests and a total.

    `fault` counts injected errors; those requests are also counted under their operation,
    so it is not added to the total twice.
    """

    def __init__(self, operations: Iterable[str]) -> None:
        self._names = [*operations, UNKNOWN, CHALLENGE, FAULT, TOTAL]
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self._names, 0)

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1
            if name != FAULT:
                self._counts[TOTAL] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(self._names, 0)
