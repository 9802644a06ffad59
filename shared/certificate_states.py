"""The certificate state machine: every status change, claim and backoff rule in one table.

Pure: callers read the certificate and the facts (issued before? expired? is the claiming
operation alive?), ask this module for the next status, and write it with an ETag. The
lifecycle (claims, recording results), auto-renew and the operation engine never set a status
of their own. docs/architecture.md shows the same table.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared import renewal
from shared.errors import Conflict, Retry
from shared.model import Certificate, CertificateStatus, OperationKind, OperationStatus

S = CertificateStatus
# Longer than functionTimeout (10 min): an operation silent for this long has died.
STALE_AFTER = timedelta(minutes=15)
BUSY = frozenset({S.RENEWING, S.REKEYING, S.REVOKING})
RENEWABLE = frozenset({S.ISSUED, S.EXPIRED, S.REVOKED, *BUSY})


class Event(StrEnum):
    RENEW = "renew"  # a renewal claims the certificate
    REKEY = "rekey"  # a rekey claims the certificate
    RESUME = "resume"  # auto-renew restarts a first issuance that stalled or backed off
    SUCCEEDED = "succeeded"  # the claiming operation recorded the version it wrote
    FAILED = "failed"  # the claiming operation failed for good
    RELEASED = "released"  # the claiming operation never reached the queue
    EXPIRED = "expired"  # the clock passed notAfter
    REVOKE = "revoke"  # a revoke operation claims the certificate
    REVOKED = "revoked"  # the CA confirmed the revocation and it is recorded on the certificate


class Rest(StrEnum):
    """A target that depends on the facts: Revoked while the current version is revoked, else
    Issued, or Expired once notAfter has passed."""

    AT_REST = "Issued|Expired|Revoked"


Target = CertificateStatus | Rest

# (from, event) -> to. A pair missing from the table is not a transition.
TRANSITIONS: dict[tuple[CertificateStatus, Event], Target] = {
    **{(status, Event.RENEW): S.RENEWING for status in RENEWABLE},
    **{(status, Event.REKEY): S.REKEYING for status in RENEWABLE},
    **{(status, Event.REVOKE): S.REVOKING for status in RENEWABLE},
    (S.PENDING_ISSUANCE, Event.RESUME): S.PENDING_ISSUANCE,
    (S.FAILED, Event.RESUME): S.PENDING_ISSUANCE,
    # A version written is real whatever happened meanwhile: recording it always means Issued.
    **{(status, Event.SUCCEEDED): S.ISSUED for status in S},
    (S.PENDING_ISSUANCE, Event.FAILED): S.FAILED,
    (S.FAILED, Event.FAILED): S.FAILED,
    **{(status, Event.FAILED): Rest.AT_REST for status in RENEWABLE},
    **{(status, Event.RELEASED): Rest.AT_REST for status in BUSY},
    (S.ISSUED, Event.EXPIRED): S.EXPIRED,
    # Revoking an older version leaves the certificate Issued; revoking the current one, Revoked.
    (S.REVOKING, Event.REVOKED): Rest.AT_REST,
}


@dataclass(frozen=True)
class Facts:
    """What the table's guards look at besides the status."""

    issued_before: bool = False
    expired: bool = False  # notAfter has passed
    claim_alive: bool = False  # the certificate's active operation is still making progress
    revoked: bool = False  # the current version is revoked


class InvalidTransition(Conflict):
    code = "InvalidTransition"


def facts_of(cert: Certificate, now: datetime, claim_alive: bool = False) -> Facts:
    expired = cert.not_after is not None and cert.not_after <= now
    return Facts(
        issued_before=cert.has_been_issued, expired=expired, claim_alive=claim_alive, revoked=cert.current_revoked
    )


def transition(status: CertificateStatus, event: Event, facts: Facts) -> CertificateStatus:
    """The status after `event`, or Conflict when a guard refuses it (the message says why)."""
    _check_guard(status, event, facts)
    target = TRANSITIONS.get((status, event))
    if target is None:
        raise InvalidTransition(f"a certificate in status {status.value} cannot take event {event.value}")
    if target is Rest.AT_REST:
        return _at_rest(facts)
    return target


def _at_rest(facts: Facts) -> CertificateStatus:
    if facts.revoked:
        return S.REVOKED
    return S.EXPIRED if facts.expired else S.ISSUED


def _check_guard(status: CertificateStatus, event: Event, facts: Facts) -> None:
    if event in (Event.RENEW, Event.REKEY, Event.REVOKE):
        if not facts.issued_before:
            raise Conflict("the certificate has never been issued", code="NotIssued")
        if status in BUSY and facts.claim_alive:
            raise Conflict("the certificate has an operation in progress", code="OperationInProgress")
    elif event is Event.RESUME:
        if facts.issued_before or facts.claim_alive:
            raise Conflict("the certificate is no longer waiting for its first issuance", code="OperationInProgress")
    elif event is Event.EXPIRED and not facts.expired:
        raise InvalidTransition("the certificate has not reached its notAfter")


def claim_event(kind: OperationKind) -> Event:
    return {OperationKind.REKEY: Event.REKEY, OperationKind.REVOKE: Event.REVOKE}.get(kind, Event.RENEW)


def claim_alive(
    status: OperationStatus | None, last_progress: datetime | None, claimed_at: datetime, now: datetime
) -> bool:
    """Stale-claim rule: a claim whose operation finished, or made no progress for STALE_AFTER,
    may be taken over. `status` None: the record is not written yet, so the claim's age decides."""
    if status is None:
        return now - claimed_at < STALE_AFTER
    if status not in (OperationStatus.QUEUED, OperationStatus.RUNNING):
        return False
    return last_progress is None or now - last_progress < STALE_AFTER


@dataclass(frozen=True)
class FailureOutcome:
    status: CertificateStatus
    renewal_due_at: datetime | None  # None: no automatic retry, a person must act


def after_failure(
    cert: Certificate, retry: Retry, now: datetime, retry_after: timedelta | None = None
) -> FailureOutcome:
    """Backoff rule for a failed issuance, renewal or rekey (cert.failure_count already counts it).

    The old version keeps serving; auto-renew tries again after a growing backoff (never past
    notAfter), unless the dependency refused what we sent (Retry.NEVER): the same request would
    be refused again, so nothing is issued again until a person changes it.
    """
    status = transition(cert.status, Event.FAILED, facts_of(cert, now))
    if retry is Retry.NEVER:
        return FailureOutcome(status, None)
    if not cert.has_been_issued:
        return FailureOutcome(status, renewal.retry_at(now, cert.failure_count, None))
    return FailureOutcome(status, renewal.retry_at(now, cert.failure_count, cert.not_after, retry_after))


def is_renewal_due(cert: Certificate, now: datetime, interval: timedelta | None = None) -> bool:
    """Auto-renew on, issued before, and its (possibly backed-off) due time has passed, or fewer
    than two auto-renew `interval`s of its life are left."""
    return (
        cert.auto_renew
        and cert.has_been_issued
        and cert.status in RENEWABLE
        and renewal.is_due(cert.renewal_due_at, now, not_after=cert.not_after, interval=interval)
    )


def first_issuance_to_resume(cert: Certificate, now: datetime) -> bool:
    """Never issued, and its first issuance stalled (message lost, worker died) or failed and
    its backoff has passed (a refusal has no due time, so it is never resumed)."""
    if cert.has_been_issued:
        return False
    if cert.status is S.PENDING_ISSUANCE:
        return True
    return cert.status is S.FAILED and cert.auto_renew and renewal.is_due(cert.renewal_due_at, now)
