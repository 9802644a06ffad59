"""Sync operations: start them over HTTP or after a renewal, and run them from the queue."""
from __future__ import annotations

from shared.app_context import AppContext
from shared.appservice import sync as appservice
from shared.errors import Conflict, DependencyError
from shared.links import links_of_certificate
from shared.model import Certificate, Operation, OperationKind
from shared.operations import derived_operation_id, new_operation, submit, submit_once
from shared.sync.executor import sync_link, sync_links_of_secret

RETRY_LATER = {"ArmThrottled", "ArmUnavailable", "ArmConflict"}


def start_link_sync(ctx: AppContext, name: str, requested_by: str = "") -> Operation:
    ctx.links.get(name)
    return submit(ctx, new_operation(OperationKind.SYNC_LINK, name, {}, requested_by))


def start_certificate_sync(ctx: AppContext, name: str, requested_by: str = "") -> Operation:
    ctx.certificates.get(name)
    return submit(ctx, new_operation(OperationKind.SYNC_CERTIFICATE, name, {}, requested_by))


def run_link_sync(ctx: AppContext, op: Operation) -> dict:
    result = sync_link(ctx, op.target)
    return {
        "changed": result.changed,
        "thumbprint": result.thumbprint,
        "previousThumbprint": result.previous_thumbprint,
        "bindingsUpdated": result.bindings_updated,
    }


def run_certificate_sync(ctx: AppContext, op: Operation) -> dict:
    cert = ctx.certificates.get(op.target)
    table_only = [link for link in links_of_certificate(ctx, cert) if not link.resource_id]
    outcome = sync_links_of_secret(ctx, table_only)
    result, failures = outcome.as_dict(), dict(outcome.failures)
    if ctx.app_service is not None:
        in_arm = appservice.sync_secret(ctx, ctx.secret_of(cert), cert.name)
        result.update(in_arm.as_dict())
        failures.update(in_arm.failures)
        if any(code in RETRY_LATER for code in in_arm.failures.values()) and not op.final_attempt:
            # throttled or ARM failing: the queue delivers the operation again (what moved stays moved)
            raise DependencyError("Azure Resource Manager did not finish the sync; retrying", code="ArmUnavailable")
    if failures:
        failed = ", ".join(f"{k} ({v})" for k, v in sorted(failures.items()))
        raise Conflict(f"{len(failures)} link(s) could not be synced: {failed}"[:1000], code="SyncIncomplete")
    return result


def after_new_version(ctx: AppContext, cert: Certificate, renewal_id: str) -> dict:
    """Seconds after a renewal: queue a sync of every link of the secret (unless turned off).
    Its id derives from the renewal's, so a redelivered renewal finds it instead of queueing another."""
    if not ctx.settings.auto_sync_after_renewal:
        return {}
    if ctx.app_service is None and not links_of_certificate(ctx, cert):
        return {}  # with App Service managed, ARM may hold links certsync has not indexed yet
    op = new_operation(OperationKind.SYNC_CERTIFICATE, cert.name, {"trigger": "renewal"}, "certsync")
    op.id = derived_operation_id(renewal_id, "sync")
    return {"syncOperation": submit_once(ctx, op).id}
