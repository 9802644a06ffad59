"""Revoke a certificate version (the use case; the reasons and the safety rule are in
shared.revocation, the status rules in shared.certificate_states).

A revoke claims the certificate like a renewal (`Revoking`), because the CA is remote: the
operation asks the CA (ACME revokeCert, or the local CA's revocation list), then records the
revoked version on the certificate. When the version was the current one and auto-renew is on,
that same write hands the claim to a rekey (a new key, always: the old one may be compromised),
whose id is derived from the revoke's, so a redelivery queues it once; the rekey's usual
follow-up sync then moves the links and bindings off the revoked certificate.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from shared import telemetry
from shared.app_context import AppContext
from shared.certificate_states import Event, facts_of, transition
from shared.clock import to_iso, utcnow
from shared.errors import BadRequest, CertsyncError, Conflict, NotFound, Retry, classify
from shared.lifecycle import start_renewal, superseded
from shared.model import Certificate, Operation, OperationKind, RevokedVersion
from shared.notify.events import EventType, operation_event, record
from shared.operations import derived_operation_id, new_operation, submit_once
from shared.revocation import Reason, parse_reason
from shared.secret_refs import certificate_at
from shared.tables import retry_on_conflict

log = logging.getLogger("certsync.revoke")


@dataclass(frozen=True)
class RevocationTarget:
    """The version a revoke is about, resolved when it was asked for."""

    version: str
    thumbprint: str
    serial: str

    def as_parameters(self, reason: Reason) -> dict:
        return {"reason": reason.value, "version": self.version, "thumbprint": self.thumbprint, "serial": self.serial}


def start_revocation(
    ctx: AppContext, name: str, reason: object, version: str | None = None, requested_by: str = ""
) -> Operation:
    """Check the reason against the certificate's issuer and find the version (default: the
    current one; else a Key Vault version id or a thumbprint), then claim and queue; 202."""
    cert = ctx.certificates.find(name)
    if cert is None:
        raise NotFound(f"certificate {name} was not found", code="CertificateNotFound")
    if not cert.has_been_issued:
        raise Conflict(f"certificate {name} has never been issued", code="NotIssued")
    checked = parse_reason(reason, ctx.issuer(cert.issuer).capabilities.revocation_reasons)
    target = _resolve(ctx, cert, version)
    return start_renewal(ctx, name, OperationKind.REVOKE, target.as_parameters(checked), requested_by)


def _resolve(ctx: AppContext, cert: Certificate, wanted: str | None) -> RevocationTarget:
    if wanted and (not wanted.isascii() or not wanted.isalnum() or len(wanted) > 64):
        raise BadRequest("version must be a Key Vault version id or a thumbprint", code="InvalidField")
    if not wanted or wanted == cert.secret_version or wanted.upper() == cert.thumbprint.upper():
        _check_not_expired(cert.thumbprint, cert.not_after)
        return RevocationTarget(cert.secret_version, cert.thumbprint, cert.serial)
    found = next(
        (v for v in ctx.vault_of(cert).list_versions(cert.secret_name)
         if v.version == wanted or v.tags.get("thumbprint", "").upper() == wanted.upper()),
        None,
    )
    if found is None:
        raise NotFound(f"certificate {cert.name} has no version {wanted}", code="VersionNotFound")
    held = certificate_at(ctx.vault_of(cert), cert.secret_name, found.version)
    _check_not_expired(held.thumbprint, held.bundle.not_after)
    return RevocationTarget(found.version, held.thumbprint, held.bundle.serial)


def _check_not_expired(thumbprint: str, not_after: datetime | None) -> None:
    if not_after is not None and not_after <= utcnow():
        raise BadRequest(
            f"certificate {thumbprint} expired at {to_iso(not_after)}; an expired certificate needs no revocation",
            code="CertificateExpired",
        )


def run_revocation(ctx: AppContext, op: Operation) -> dict:
    """The handler of revoke operations (registered by the composition root)."""
    reason, version, thumbprint = Reason(op.parameters["reason"]), op.parameters["version"], op.parameters["thumbprint"]
    cert = ctx.certificates.get(op.target)
    recorded = cert.revocation_of(thumbprint)
    if recorded is None and cert.active_operation != op.id:
        raise superseded(cert)
    already = recorded is not None and recorded.operation != op.id
    if recorded is None:
        try:
            already = _revoke_at_ca(ctx, cert, version, reason)
        except Exception as err:
            if op.final_attempt or classify(err) is not Retry.REDELIVER:
                _release(ctx, op)
            raise
        if not already:
            telemetry.instruments().record_revocation(cert.issuer, reason.value)
    cert, renewal = _record(ctx, op, reason, already)
    result = {**op.parameters, "alreadyRevoked": already, "status": cert.status.value}
    if renewal is not None:
        result["renewalOperation"] = submit_once(ctx, renewal).id
    return result


def _revoke_at_ca(ctx: AppContext, cert: Certificate, version: str, reason: Reason) -> bool:
    """Ask the CA; True when it had revoked the certificate already."""
    held = certificate_at(ctx.vault_of(cert), cert.secret_name, version)
    return ctx.issuer(cert.issuer).revoke(held.bundle.certificate, reason)


def _record(ctx: AppContext, op: Operation, reason: Reason, already: bool) -> tuple[Certificate, Operation | None]:
    """The revoked version on the certificate (whoever holds the claim now: the revocation is
    real), the claim released or handed to the rekey that replaces a revoked current version."""
    renewal = new_operation(OperationKind.REKEY, op.target, {"trigger": "revocation", "revocation": op.id}, "certsync")
    renewal.id = derived_operation_id(op.id, "renewal")
    handed: list[Operation] = []

    def apply() -> Certificate:
        handed.clear()
        cert = ctx.certificates.get(op.target)
        if cert.revocation_of(op.parameters["thumbprint"]) is None:
            cert.revoked = (*cert.revoked, _revoked_version(op, reason))
            _notify(ctx, op, cert, already)
        if cert.active_operation == op.id:
            cert.status = transition(cert.status, Event.REVOKED, facts_of(cert, utcnow()))
            cert.active_operation = ""
            if cert.current_revoked and cert.auto_renew:
                cert.status = transition(cert.status, Event.REKEY, facts_of(cert, utcnow()))
                cert.active_operation, cert.renewal_due_at = renewal.id, utcnow()
                handed.append(renewal)
        elif cert.active_operation == renewal.id:
            handed.append(renewal)  # recorded on an earlier delivery; the rekey may not be queued yet
        return ctx.certificates.save(cert)

    cert = retry_on_conflict(apply)
    return cert, (handed[0] if handed else None)


def _revoked_version(op: Operation, reason: Reason) -> RevokedVersion:
    p = op.parameters
    return RevokedVersion(p["version"], p["thumbprint"], p["serial"], reason.value, utcnow(), op.id)


def _notify(ctx: AppContext, op: Operation, cert: Certificate, already: bool) -> None:
    """certificate.revoked, recorded before the row that shows it (its id comes from the operation)."""
    p = op.parameters
    data = {"operation": op.id, "version": p["version"], "thumbprint": p["thumbprint"], "serial": p["serial"],
            "reason": p["reason"], "alreadyRevoked": already, "current": p["version"] == cert.secret_version}
    record(ctx, operation_event(op, EventType.REVOKED, data))


def _release(ctx: AppContext, op: Operation) -> None:
    """The CA refused (or the last delivery failed): the certificate goes back to rest, unchanged."""

    def apply() -> None:
        cert = ctx.certificates.get(op.target)
        if cert.active_operation == op.id:
            cert.status = transition(cert.status, Event.FAILED, facts_of(cert, utcnow()))
            cert.active_operation = ""
            ctx.certificates.save(cert)

    try:
        retry_on_conflict(apply)
    except CertsyncError as err:  # the claim goes stale and is taken over later
        log.warning("could not release the claim of revoke %s: %s", op.id, err.code)

