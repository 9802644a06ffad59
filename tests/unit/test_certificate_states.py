"""Table-driven tests of the certificate state machine (shared.certificate_states) and of the
one retry classification (shared.errors.classify) it and the operation engine share."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.certificate_states import (
    STALE_AFTER,
    TRANSITIONS,
    Event,
    Facts,
    InvalidTransition,
    after_failure,
    claim_alive,
    first_issuance_to_resume,
    transition,
)
from shared.errors import (
    BadRequest,
    CertsyncError,
    Conflict,
    DependencyError,
    IssuerError,
    NotFound,
    Retry,
    classify,
    is_retryable,
)
from shared.model import Certificate, CertificateStatus, OperationStatus

S = CertificateStatus
NOW = datetime(2026, 6, 1, tzinfo=UTC)
ISSUED_BEFORE = Facts(issued_before=True)
EXPIRED = Facts(issued_before=True, expired=True)
BUSY_ALIVE = Facts(issued_before=True, claim_alive=True)
NEVER_ISSUED = Facts()
REVOKED = Facts(issued_before=True, revoked=True)  # the current version is revoked
REVOKED_EXPIRED = Facts(issued_before=True, revoked=True, expired=True)


@pytest.mark.parametrize(
    "status,event,facts,expected",
    [
        # claims: renew / rekey an issued certificate
        (S.ISSUED, Event.RENEW, ISSUED_BEFORE, S.RENEWING),
        (S.EXPIRED, Event.RENEW, EXPIRED, S.RENEWING),
        (S.ISSUED, Event.REKEY, ISSUED_BEFORE, S.REKEYING),
        # stale-claim takeover: busy, but the claiming operation stopped making progress
        (S.RENEWING, Event.RENEW, ISSUED_BEFORE, S.RENEWING),
        (S.REKEYING, Event.RENEW, ISSUED_BEFORE, S.RENEWING),
        (S.RENEWING, Event.REKEY, ISSUED_BEFORE, S.REKEYING),
        # a live claim on a resting certificate (its status already back) does not block
        (S.ISSUED, Event.RENEW, BUSY_ALIVE, S.RENEWING),
        # auto-renew resumes a stalled or backed-off first issuance
        (S.PENDING_ISSUANCE, Event.RESUME, NEVER_ISSUED, S.PENDING_ISSUANCE),
        (S.FAILED, Event.RESUME, NEVER_ISSUED, S.PENDING_ISSUANCE),
        # success always records Issued
        (S.PENDING_ISSUANCE, Event.SUCCEEDED, NEVER_ISSUED, S.ISSUED),
        (S.RENEWING, Event.SUCCEEDED, ISSUED_BEFORE, S.ISSUED),
        (S.REKEYING, Event.SUCCEEDED, EXPIRED, S.ISSUED),
        (S.FAILED, Event.SUCCEEDED, NEVER_ISSUED, S.ISSUED),
        # failure: a first issuance fails, a renewal rests on the old version (by the clock)
        (S.PENDING_ISSUANCE, Event.FAILED, NEVER_ISSUED, S.FAILED),
        (S.FAILED, Event.FAILED, NEVER_ISSUED, S.FAILED),
        (S.RENEWING, Event.FAILED, ISSUED_BEFORE, S.ISSUED),
        (S.REKEYING, Event.FAILED, EXPIRED, S.EXPIRED),
        # the claim's operation never reached the queue
        (S.RENEWING, Event.RELEASED, ISSUED_BEFORE, S.ISSUED),
        (S.REKEYING, Event.RELEASED, EXPIRED, S.EXPIRED),
        # the clock
        (S.ISSUED, Event.EXPIRED, EXPIRED, S.EXPIRED),
        # revoke: claimed like a renewal, from any resting status, or a stale busy one
        (S.ISSUED, Event.REVOKE, ISSUED_BEFORE, S.REVOKING),
        (S.EXPIRED, Event.REVOKE, EXPIRED, S.REVOKING),
        (S.REVOKED, Event.REVOKE, REVOKED, S.REVOKING),  # an older version, or asking again
        (S.RENEWING, Event.REVOKE, ISSUED_BEFORE, S.REVOKING),
        (S.REVOKING, Event.RENEW, ISSUED_BEFORE, S.RENEWING),
        # the CA confirmed: Revoked when the current version is revoked, else back to rest
        (S.REVOKING, Event.REVOKED, REVOKED, S.REVOKED),
        (S.REVOKING, Event.REVOKED, REVOKED_EXPIRED, S.REVOKED),
        (S.REVOKING, Event.REVOKED, ISSUED_BEFORE, S.ISSUED),  # an older version was revoked
        (S.REVOKING, Event.REVOKED, EXPIRED, S.EXPIRED),
        # the revoke hands its claim to the rekey that replaces the revoked version
        (S.REVOKED, Event.REKEY, REVOKED, S.REKEYING),
        (S.REVOKED, Event.RENEW, REVOKED, S.RENEWING),
        # the CA refused, or the claim was never queued: back to rest
        (S.REVOKING, Event.FAILED, ISSUED_BEFORE, S.ISSUED),
        (S.REVOKING, Event.FAILED, REVOKED, S.REVOKED),
        (S.REVOKING, Event.RELEASED, EXPIRED, S.EXPIRED),
        # a renewal after a revocation fails: the certificate still serves the revoked version
        (S.REKEYING, Event.FAILED, REVOKED, S.REVOKED),
        # its success is Issued like any other
        (S.REKEYING, Event.SUCCEEDED, ISSUED_BEFORE, S.ISSUED),
    ],
)
def test_transitions(status, event, facts, expected):
    assert transition(status, event, facts) is expected


@pytest.mark.parametrize(
    "status,event,facts,code",
    [
        (S.PENDING_ISSUANCE, Event.RENEW, NEVER_ISSUED, "NotIssued"),
        (S.FAILED, Event.REKEY, NEVER_ISSUED, "NotIssued"),
        (S.RENEWING, Event.RENEW, BUSY_ALIVE, "OperationInProgress"),
        (S.REKEYING, Event.REKEY, BUSY_ALIVE, "OperationInProgress"),
        (S.ISSUED, Event.RESUME, ISSUED_BEFORE, "OperationInProgress"),
        (S.PENDING_ISSUANCE, Event.RESUME, Facts(claim_alive=True), "OperationInProgress"),
        (S.ISSUED, Event.EXPIRED, ISSUED_BEFORE, "InvalidTransition"),  # notAfter not reached
        (S.ISSUED, Event.RELEASED, ISSUED_BEFORE, "InvalidTransition"),  # nothing claimed
        (S.FAILED, Event.EXPIRED, EXPIRED, "InvalidTransition"),
        (S.PENDING_ISSUANCE, Event.RELEASED, NEVER_ISSUED, "InvalidTransition"),
        (S.PENDING_ISSUANCE, Event.REVOKE, NEVER_ISSUED, "NotIssued"),
        (S.REVOKING, Event.REVOKE, BUSY_ALIVE, "OperationInProgress"),  # a second revoke while one runs
        (S.RENEWING, Event.REVOKE, BUSY_ALIVE, "OperationInProgress"),  # a revoke while a renewal runs
        (S.REVOKING, Event.REKEY, BUSY_ALIVE, "OperationInProgress"),
        (S.ISSUED, Event.REVOKED, ISSUED_BEFORE, "InvalidTransition"),  # nothing claimed
        (S.REVOKED, Event.EXPIRED, REVOKED_EXPIRED, "InvalidTransition"),  # Revoked says more than Expired
    ],
)
def test_refused_transitions(status, event, facts, code):
    with pytest.raises(Conflict) as caught:
        transition(status, event, facts)
    assert caught.value.code == code


def test_every_pair_missing_from_the_table_is_refused():
    for status in S:
        for event in Event:
            if (status, event) in TRANSITIONS:
                continue
            facts = Facts(issued_before=event is not Event.RESUME, expired=True)
            with pytest.raises(InvalidTransition):
                transition(status, event, facts)


@pytest.mark.parametrize(
    "status,last_progress,claimed_ago,alive",
    [
        (OperationStatus.QUEUED, NOW - timedelta(minutes=1), None, True),
        (OperationStatus.RUNNING, NOW - STALE_AFTER + timedelta(seconds=1), None, True),
        (OperationStatus.RUNNING, NOW - STALE_AFTER, None, False),  # silent too long: stale, may be taken over
        (OperationStatus.RUNNING, None, None, True),
        (OperationStatus.SUCCEEDED, NOW, None, False),
        (OperationStatus.FAILED, NOW, None, False),
        (None, None, timedelta(minutes=1), True),  # record not written yet: a fresh claim
        (None, None, STALE_AFTER, False),
    ],
)
def test_stale_claim_rule(status, last_progress, claimed_ago, alive):
    claimed_at = NOW - (claimed_ago or timedelta(0))
    assert claim_alive(status, last_progress, claimed_at, NOW) is alive


def cert(**kw) -> Certificate:
    base = dict(name="c", hostnames=("a.example.com",), key_type="RSA2048", issuer="local", secret_version="v1",
                status=S.RENEWING, not_after=NOW + timedelta(days=30), failure_count=1)  # fmt: skip
    base.update(kw)
    return Certificate(**base)


@pytest.mark.parametrize(
    "changes,retry,retry_after,status,due_in",
    [
        ({}, Retry.LATER, None, S.ISSUED, timedelta(hours=1)),  # first failure: an hour
        ({"failure_count": 3}, Retry.LATER, None, S.ISSUED, timedelta(hours=4)),
        ({}, Retry.LATER, timedelta(hours=6), S.ISSUED, timedelta(hours=6)),  # the CA's Retry-After wins
        ({}, Retry.REDELIVER, None, S.ISSUED, timedelta(hours=1)),  # an outage on the last delivery
        ({}, Retry.NEVER, None, S.ISSUED, None),  # refused content: no automatic retry
        ({"secret_version": "", "status": S.PENDING_ISSUANCE, "not_after": None}, Retry.LATER, None, S.FAILED,
         timedelta(hours=1)),
        ({"secret_version": "", "status": S.PENDING_ISSUANCE, "not_after": None}, Retry.NEVER, None, S.FAILED, None),
        ({"not_after": NOW - timedelta(days=1)}, Retry.LATER, None, S.EXPIRED, timedelta(0)),  # expired: at once
    ],
)
def test_backoff_after_a_failure(changes, retry, retry_after, status, due_in):
    outcome = after_failure(cert(**changes), retry, NOW, retry_after)
    assert outcome.status is status
    if due_in is None:
        assert outcome.renewal_due_at is None
    else:
        assert outcome.renewal_due_at is not None and outcome.renewal_due_at - NOW == due_in


def test_a_refused_first_issuance_is_never_resumed():
    refused = cert(secret_version="", status=S.PENDING_ISSUANCE, not_after=None)
    outcome = after_failure(refused, Retry.NEVER, NOW)
    refused.status, refused.renewal_due_at = outcome.status, outcome.renewal_due_at
    assert not first_issuance_to_resume(refused, NOW + timedelta(days=365))
    backed_off = cert(secret_version="", status=S.PENDING_ISSUANCE, not_after=None)
    outcome = after_failure(backed_off, Retry.LATER, NOW)
    backed_off.status, backed_off.renewal_due_at = outcome.status, outcome.renewal_due_at
    assert first_issuance_to_resume(backed_off, NOW + timedelta(hours=2))


@pytest.mark.parametrize(
    "err,retry",
    [
        (DependencyError("Key Vault unreachable"), Retry.REDELIVER),  # no answer at all
        (DependencyError("busy", upstream_status=503), Retry.REDELIVER),
        (DependencyError("throttled", upstream_status=429), Retry.REDELIVER),
        (DependencyError("timeout", upstream_status=408), Retry.REDELIVER),
        (DependencyError("secret too large", upstream_status=400), Retry.NEVER),  # issue #11 defect 3
        (DependencyError("too large", upstream_status=413), Retry.NEVER),
        (DependencyError("forbidden", upstream_status=403), Retry.LATER),  # a person fixes the role
        (DependencyError("no such vault", upstream_status=404), Retry.LATER),
        (IssuerError("order invalid"), Retry.LATER),  # the CA answered
        (BadRequest("no DNS zone"), Retry.LATER),
        (NotFound("gone"), Retry.LATER),
        (CertsyncError("ours"), Retry.LATER),
        (RuntimeError("a bug"), Retry.REDELIVER),
    ],
)
def test_one_retry_classification(err, retry):
    assert classify(err) is retry
    assert is_retryable(err) is (retry is Retry.REDELIVER)
