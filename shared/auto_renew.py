"""The auto-renew run (every 8 hours): renew every certificate whose renewal is due.

Decisions come from Table data alone, so a run with nothing due makes no Key Vault call. For
every certificate whose CA offers ACME Renewal Information (RFC 9773) the run first asks the CA
for its current window (unless the last answer's Retry-After has not passed): a window the CA
moved, e.g. earlier before a mass revocation, sets a new due time that this same run acts on.
Each due certificate gets its own operation, enqueued with a random delay so a fleet does not
hit the CA at once; one failure never stops the others.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared import renewal
from shared.app_context import AppContext
from shared.certificate_states import Event, facts_of, first_issuance_to_resume, is_renewal_due, transition
from shared.clock import utcnow
from shared.errors import CertsyncError
from shared.lifecycle import claim_held, resume_issuance, start_renewal
from shared.model import Certificate, CertificateStatus, OperationKind
from shared.tables import retry_on_conflict

log = logging.getLogger("certsync.auto_renew")
MAX_ARI_WAIT = timedelta(days=1)  # a longer Retry-After could hide a window moved for a mass revocation
__all__ = ["AutoRenewReport", "first_issuance_to_resume", "is_renewal_due", "resume_issuance", "run_auto_renew"]


@dataclass
class AutoRenewReport:
    checked: int = 0
    started: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    skipped_busy: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    windows_moved: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def run_auto_renew(ctx: AppContext, now: datetime | None = None, rng: random.Random | None = None) -> AutoRenewReport:
    now = now or utcnow()
    rng = rng or random.Random()
    report = AutoRenewReport()
    for cert in ctx.certificates.list():
        report.checked += 1
        try:
            if _issuance_stalled(ctx, cert, now):
                resume_issuance(ctx, cert.name, {"trigger": "auto_renew", "resumed": True}, "auto_renew")
                report.resumed.append(cert.name)
                continue
            if cert.status is CertificateStatus.ISSUED and cert.not_after and cert.not_after <= now:
                _mark_expired(ctx, cert.name, now)
                report.expired.append(cert.name)
            cert = _poll_renewal_info(ctx, cert, now, rng, report)
            if not is_renewal_due(cert, now, ctx.settings.auto_renew_interval):
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


def _poll_renewal_info(
    ctx: AppContext, cert: Certificate, now: datetime, rng: random.Random, report: AutoRenewReport
) -> Certificate:
    """Ask the CA for the certificate's renewal window when it is time to; a failed poll only
    logs, and the due time already stored stands."""
    if not _ari_poll_due(cert, now):
        return cert
    try:
        info = ctx.issuer(cert.issuer).renewal_info(cert.ari_id)
    except CertsyncError as err:
        log.warning("renewal information for %s unavailable: %s", cert.name, err.code)
        return cert
    wait = min(info.retry_after, MAX_ARI_WAIT) if info and info.retry_after else None
    window = info.window if info else None

    def apply() -> Certificate:
        fresh = ctx.certificates.get(cert.name)
        if fresh.ari_id != cert.ari_id:
            return fresh  # renewed meanwhile: the new version has its own window
        next_poll = now + wait if wait else None
        moved = window is not None and window != fresh.ari_window and fresh.not_before and fresh.not_after
        if not moved and next_poll == fresh.ari_next_poll_at:
            return fresh  # nothing new: no Table write
        fresh.ari_next_poll_at = next_poll
        if window and moved and fresh.not_before and fresh.not_after:
            fresh.ari_window = window
            due = renewal.renewal_due_at(fresh.not_before, fresh.not_after, ari_window=window, rng=rng)
            # After a failure the stored time is a backoff; a window moved earlier still brings it forward.
            if fresh.failure_count == 0 or (fresh.renewal_due_at is not None and due < fresh.renewal_due_at):
                fresh.renewal_due_at = due
            report.windows_moved.append(fresh.name)
        return ctx.certificates.save(fresh)

    return retry_on_conflict(apply)


def _ari_poll_due(cert: Certificate, now: datetime) -> bool:
    """RFC 9773: only while the certificate is valid, never before the last Retry-After passed."""
    return (
        bool(cert.ari_id)
        and cert.auto_renew
        and cert.status is CertificateStatus.ISSUED
        and cert.not_after is not None
        and now < cert.not_after
        and (cert.ari_next_poll_at is None or cert.ari_next_poll_at <= now)
    )


def _issuance_stalled(ctx: AppContext, cert: Certificate, now: datetime) -> bool:
    return first_issuance_to_resume(cert, now) and not claim_held(ctx, cert)


def _mark_expired(ctx: AppContext, name: str, now: datetime) -> None:
    def apply() -> None:
        cert = ctx.certificates.get(name)
        if cert.status is CertificateStatus.ISSUED:
            cert.status = transition(cert.status, Event.EXPIRED, facts_of(cert, now))
            ctx.certificates.save(cert)

    retry_on_conflict(apply)
