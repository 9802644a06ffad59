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

from shared.app_context import AppContext
from shared.certificate_states import Event, facts_of, first_issuance_to_resume, is_renewal_due, transition
from shared.clock import utcnow
from shared.errors import CertsyncError, Conflict
from shared.lifecycle import claim_held, start_renewal
from shared.model import Certificate, CertificateStatus, OperationKind
from shared.operations import abandon, new_operation, submit
from shared.tables import retry_on_conflict

log = logging.getLogger("certsync.auto_renew")
__all__ = ["AutoRenewReport", "first_issuance_to_resume", "is_renewal_due", "resume_issuance", "run_auto_renew"]


@dataclass
class AutoRenewReport:
    checked: int = 0
    started: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    skipped_busy: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


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
                _mark_expired(ctx, cert.name, now)
                report.expired.append(cert.name)
            if not is_renewal_due(cert, now):
                continue
            if claim_held(ctx, cert):
                report.skipped_busy.append(cert.name)
                continue
            jitter = ctx.settings.auto_renew_jitter_seconds
            delay = rng.randint(0, jitter) if jitter else 0
            start_renewal(ctx, cert.name, OperationKind.RENEW, {"trigger": "auto_renew"}, "auto_renew", delay)
            report.started.append(cert.name)
        except CertsyncError as err:
            report.errors[cert.name] = err.code
            log.warning("auto_renew could not start %s: %s", cert.name, err.code)
    return report


def _issuance_stalled(ctx: AppContext, cert: Certificate, now: datetime) -> bool:
    return first_issuance_to_resume(cert, now) and not claim_held(ctx, cert)


def resume_issuance(ctx: AppContext, name: str) -> None:
    op = new_operation(OperationKind.ISSUE, name, {"trigger": "auto_renew", "resumed": True}, "auto_renew")
    previous: list[str] = []

    def claim() -> None:
        cert = ctx.certificates.get(name)
        alive = not cert.has_been_issued and claim_held(ctx, cert)
        try:
            cert.status = transition(cert.status, Event.RESUME, facts_of(cert, utcnow(), alive))
        except Conflict as err:
            raise Conflict(f"certificate {name}: {err.message}", code=err.code) from None
        previous[:] = [cert.active_operation] if cert.active_operation else []
        cert.active_operation = op.id
        ctx.certificates.save(cert)

    retry_on_conflict(claim)
    for old in previous:
        abandon(ctx, old, f"taken over by operation {op.id} after it stopped making progress")
    submit(ctx, op)


def _mark_expired(ctx: AppContext, name: str, now: datetime) -> None:
    def apply() -> None:
        cert = ctx.certificates.get(name)
        if cert.status is CertificateStatus.ISSUED:
            cert.status = transition(cert.status, Event.EXPIRED, facts_of(cert, now))
            ctx.certificates.save(cert)

    retry_on_conflict(apply)
