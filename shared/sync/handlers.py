"""Sync operations: start them over HTTP or after a renewal, and run them from the queue."""
from __future__ import annotations

from shared.app_context import AppContext
from shared.errors import Conflict
from shared.links import links_of_certificate
from shared.model import Certificate, Operation, OperationKind
from shared.operations import new_operation, submit
from shared.sync.executor import sync_link, sync_links_of_secret


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
    outcome = sync_links_of_secret(ctx, links_of_certificate(ctx, cert))
    if outcome.failures:
        failed = ", ".join(f"{k} ({v})" for k, v in sorted(outcome.failures.items()))
        raise Conflict(f"{len(outcome.failures)} link(s) could not be synced: {failed}"[:1000], code="SyncIncomplete")
    return outcome.as_dict()


def after_new_version(ctx: AppContext, cert: Certificate) -> dict:
    """Seconds after a renewal: queue a sync of every link of the secret (unless turned off)."""
    if not ctx.settings.auto_sync_after_renewal:
        return {}
    if not links_of_certificate(ctx, cert):
        return {}
    op = submit(ctx, new_operation(OperationKind.SYNC_CERTIFICATE, cert.name, {"trigger": "renewal"}, "certsync"))
    return {"syncOperation": op.id}
