"""Long-running operations: 202 + Azure-AsyncOperation / Location, and the status they point at.

Off by default: every PUT answers at once. The management switch (`PUT /_emulator/long-running`)
makes the operations the Microsoft.Web specs mark `x-ms-long-running-operation` answer the
way their examples show (CreateOrUpdateAppServicePlan.json): 202 with the resource in the body
and both headers naming `{resource id}/operationresults/{id}`, which reports `InProgress` for
`polls` reads, then the planned outcome. azure-mgmt-web's `begin_*` pollers follow it unchanged.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from devtools.arm_emulator.errors import ArmError
from devtools.arm_emulator.store import ResourceStore
from devtools.emulator_http import Reply

# operation name -> the spec's operationId (Microsoft.Web, x-ms-long-running-operation: true).
# Certificates_CreateOrUpdate and WebApps_CreateOrUpdateHostNameBinding[Slot] are not: 200 only.
LONG_RUNNING: dict[str, str] = {
    "serverfarms.put": "AppServicePlans_CreateOrUpdate",
    "sites.put": "WebApps_CreateOrUpdate",
    "sites.slots.put": "WebApps_CreateOrUpdateSlot",
}
OUTCOMES = ("Succeeded", "Failed", "Canceled")
_SEGMENT = "operationresults"
_MAX_POLLS = 100


class PlanError(ValueError):
    """The switch's JSON is not a plan (says which field and why)."""


@dataclass(frozen=True)
class AsyncPlan:
    operations: tuple[str, ...]
    polls: int = 1  # status reads that answer InProgress before the outcome
    outcome: str = "Succeeded"
    error_code: str = "InternalServerError"
    error_message: str = "The operation failed."
    retry_after: int = 0  # seconds in Retry-After; 0 sends none (the client's polling interval applies)

    def to_json(self) -> dict[str, Any]:
        return {
            "operations": list(self.operations),
            "polls": self.polls,
            "outcome": self.outcome,
            "error": {"code": self.error_code, "message": self.error_message},
            "retryAfter": self.retry_after,
        }


def parse_plan(document: Any) -> AsyncPlan:
    if not isinstance(document, dict):
        raise PlanError("send a JSON object: operations, polls, outcome, error {code, message}, retryAfter")
    unknown = set(document) - {"operations", "polls", "outcome", "error", "retryAfter"}
    if unknown:
        raise PlanError(f"unknown field(s): {', '.join(sorted(unknown))}")
    operations = document.get("operations", list(LONG_RUNNING))
    if not isinstance(operations, list) or not operations or not all(op in LONG_RUNNING for op in operations):
        raise PlanError(f"operations must be a non-empty list of {', '.join(LONG_RUNNING)} (the long-running ones)")
    polls, retry_after = document.get("polls", 1), document.get("retryAfter", 0)
    if not _int_in(polls, 0, _MAX_POLLS) or not _int_in(retry_after, 0, 60):
        raise PlanError(f"polls must be 0..{_MAX_POLLS} and retryAfter 0..60 (integers)")
    outcome = document.get("outcome", "Succeeded")
    if outcome not in OUTCOMES:
        raise PlanError(f"outcome must be one of {', '.join(OUTCOMES)}")
    error = document.get("error", {})
    if not isinstance(error, dict) or not all(isinstance(error.get(k, ""), str) for k in ("code", "message")):
        raise PlanError("error must be {code, message} with string values")
    return AsyncPlan(
        tuple(operations),
        polls,
        outcome,
        error.get("code") or AsyncPlan.error_code,
        error.get("message") or AsyncPlan.error_message,
        retry_after,
    )


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass
class _Operation:
    id: str
    resource_id: str
    plan: AsyncPlan
    started: str
    reads: int = 0
    ended: str = ""


@dataclass
class LongRunning:
    """The switch and the operations it started (thread-safe: the handler threads share it)."""

    plan: AsyncPlan | None = None
    _operations: dict[str, _Operation] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, plan: AsyncPlan | None) -> None:
        with self._lock:
            self.plan = plan

    def applies(self, operation: str) -> bool:
        plan = self.plan
        return plan is not None and operation in plan.operations

    def accept(
        self, store: ResourceStore, path: str, base_url: str, api_version: str, run: Callable[[], Reply]
    ) -> Reply:
        """Run the PUT at `path` (validation errors answer at once, as ARM's do), then answer 202.
        A planned failure puts the resource back as it was. Guess: a successful one is visible at
        once (real App Service may show it meanwhile with a non-terminal provisioningState)."""
        plan = self.plan
        if plan is None:
            return run()
        resource_id = path.rstrip("/")
        before = store.subtree(resource_id)
        reply = run()
        if plan.outcome != "Succeeded":
            store.restore_subtree(resource_id, before)
        operation = _Operation(uuid.uuid4().hex.upper(), resource_id, plan, _now())
        with self._lock:
            self._operations[operation.id] = operation
        monitor = f"{base_url}{quote(resource_id)}/{_SEGMENT}/{operation.id}?api-version={api_version}"
        headers = {"Azure-AsyncOperation": monitor, "Location": monitor, **_retry_after(plan)}
        return Reply(202, reply.body, headers)

    def status(self, resource_id: str, operation_id: str) -> Reply:
        """The operation resource: 202 + InProgress while it runs, then 200 with its end state
        (202/200 serve Location pollers too). Guess: App Service's exact status wording."""
        with self._lock:
            operation = self._operations.get(operation_id.upper())
            if operation is None or operation.resource_id.lower() != resource_id.lower():
                raise ArmError(404, "NotFound", f"Operation {operation_id[:40]} was not found.")
            operation.reads += 1
            plan = operation.plan
            running = operation.reads <= plan.polls
            if not running and not operation.ended:
                operation.ended = _now()
        body: dict[str, Any] = {
            "id": f"{operation.resource_id}/{_SEGMENT}/{operation.id}",
            "name": operation.id,
            "status": "InProgress" if running else plan.outcome,
            "startTime": operation.started,
        }
        if running:
            return Reply(202, body, _retry_after(plan))
        body["endTime"] = operation.ended
        if plan.outcome != "Succeeded":
            body["error"] = {"code": plan.error_code, "message": plan.error_message}
        return Reply(200, body)


def status_target(segments: list[str]) -> tuple[str, str] | None:
    """(resource id, operation id) when the path is `{resource id}/operationresults/{id}`."""
    if len(segments) < 4 or segments[-2].lower() != _SEGMENT:
        return None
    return "/" + "/".join(segments[:-2]), segments[-1]


def plan_reply(method: str, body: Mapping[str, Any] | None, long_running: LongRunning) -> Reply:
    """GET/PUT/DELETE /_emulator/long-running."""
    if method == "DELETE":
        long_running.set(None)
        return Reply(204)
    if method == "PUT":
        long_running.set(parse_plan(body))
    plan = long_running.plan
    return Reply(200, {"plan": plan.to_json() if plan else None})


def _retry_after(plan: AsyncPlan) -> dict[str, str]:
    return {"Retry-After": str(plan.retry_after)} if plan.retry_after else {}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
