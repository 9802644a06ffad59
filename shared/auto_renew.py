"""The auto-renew run (every 8 hours): renew every certificate whose renewal is due.

Decisions come from Table data alone, so a run with nothing due makes no Key Vault call.
Each due certificate gets its own operation, enqueued with a random delay so a fleet does not
hit the CA at once; one failure never stops the others.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime

from shared import renewal
from shared.app_context import AppContext
from shared.clock import utcnow
from shared.errors import CertsyncError, Conflict
from shared.lifecycle import operation_running, start_renewal
from shared.model import Certificate, CertificateStatus, OperationKind
from shared.operations import abandon, new_operation, submit
from shared.tables import retry_on_conflict

log = logging.getLogger("certsync.auto_renew")
RENEWABLE = {CertificateStatus.ISSUED, CertificateStatus.EXPIRED, CertificateStatus.RENEWING, CertificateStatus.REKEYING}


@dataclass
class AutoRenewReport:
    checked: int = 0
    started: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    skipped_busy: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def is_renewal_due(cert: Certificate, now: datetime) -> bool:
    """Pure: auto-renew on, issued before, and its (possibly backed-off) due time has passed."""
    return (
        cert.auto_renew
        and cert.has_been_issued
        and cert.status in RENEWABLE
        and renewal.is_due(cert.renewal_due_at, now)
    )


def run_auto_renew(ctx: AppContext, now: datetime | None = None, rng: random.Random | None = None) -> AutoRenewReport:
    now = now or utcnow()
    rng = rng or random.Random()
    report = AutoRenewReport()
    for cert in ctx.certificates.list():
        report.checked += 1
        try:
            if _issuance_stalled(ctx, cert, now):
                resume_issuance(ctx, cert.name)
                report.resumed.append(cert.name)
                continue
            if cert.status is CertificateStatus.ISSUED and cert.not_after and cert.not_after <= now:
                _mark_expired(ctx, cert.name)
                report.expired.append(cert.name)
            if not is_renewal_due(cert, now):
                continue
            if _busy(ctx, cert):
                report.skipped_busy.append(cert.name)
                continue
            delay = rng.randint(0, ctx.settings.auto_renew_jitter_seconds) if ctx.settings.auto_renew_jitter_seconds else 0
            start_renewal(ctx, cert.name, OperationKind.RENEW, {"trigger": "auto_renew"}, "auto_renew", delay)
            report.started.append(cert.name)
        except CertsyncError as err:
            report.errors[cert.name] = err.code
            log.warning("auto_renew could not start %s: %s", cert.name, err.code)
    return report


def first_issuance_to_resume(cert: Certificate, now: datetime) -> bool:
    """Pure: a certificate never issued whose first issuance stalled (message lost, worker died)
    or failed and whose backoff has passed."""
    if cert.has_been_issued:
        return False
    if cert.status is CertificateStatus.PENDING_ISSUANCE:
        return True
    return cert.status is CertificateStatus.FAILED and cert.auto_renew and renewal.is_due(cert.renewal_due_at, now)


def _issuance_stalled(ctx: AppContext, cert: Certificate, now: datetime) -> bool:
    return first_issuance_to_resume(cert, now) and not _busy(ctx, cert)


def resume_issuance(ctx: AppContext, name: str) -> None:
    op = new_operation(OperationKind.ISSUE, name, {"trigger": "auto_renew", "resumed": True}, "auto_renew")
    previous: list[str] = []

    def claim() -> None:
        cert = ctx.certificates.get(name)
        if cert.has_been_issued or (cert.active_operation and operation_running(ctx, cert.active_operation)):
            raise Conflict(f"certificate {name} is no longer waiting for its first issuance", code="OperationInProgress")
        previous[:] = [cert.active_operation] if cert.active_operation else []
        cert.status, cert.active_operation = CertificateStatus.PENDING_ISSUANCE, op.id
        ctx.certificates.save(cert)

    retry_on_conflict(claim)
    for old in previous:
        abandon(ctx, old, f"taken over by operation {op.id} after it stopped making progress")
    submit(ctx, op)


def _busy(ctx: AppContext, cert: Certificate) -> bool:
    return bool(cert.active_operation) and operation_running(ctx, cert.active_operation)


def _mark_expired(ctx: AppContext, name: str) -> None:
    def apply() -> None:
        cert = ctx.certificates.get(name)
        if cert.status is CertificateStatus.ISSUED:
            cert.status = CertificateStatus.EXPIRED
            ctx.certificates.save(cert)

    retry_on_conflict(apply)
