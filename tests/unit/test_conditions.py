"""Conditions in the cert-manager manner: each status and reason from the stored facts."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.conditions import (
    ConditionStatus,
    ConditionType,
    Reason,
    certificate_conditions,
    certificate_ready,
    link_conditions,
)
from shared.model import Certificate, CertificateStatus, LinkedCertificate, RevokedVersion
from shared.sync.planner import LinkSyncState

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
ISSUED = Certificate(
    name="c",
    hostnames=("www.example.com",),
    key_type="EC256",
    issuer="local",
    status=CertificateStatus.ISSUED,
    secret_version="v1",
    secret_updated_on=NOW - timedelta(days=3),
    not_before=NOW - timedelta(days=3),
    not_after=NOW + timedelta(days=60),
)
NEVER = replace(ISSUED, secret_version="", secret_updated_on=None, not_before=None, not_after=None)


@pytest.mark.parametrize(
    ("cert", "status", "reason"),
    [
        (ISSUED, ConditionStatus.TRUE, Reason.ISSUED),
        (replace(ISSUED, not_after=NOW - timedelta(seconds=1)), ConditionStatus.FALSE, Reason.EXPIRED),
        (replace(ISSUED, failure_count=2, last_error="IssuerError: no"), ConditionStatus.FALSE, Reason.RENEWAL_FAILING),
        (replace(NEVER, status=CertificateStatus.PENDING_ISSUANCE), ConditionStatus.FALSE, Reason.NOT_ISSUED),
        (replace(NEVER, status=CertificateStatus.FAILED), ConditionStatus.FALSE, Reason.ISSUANCE_FAILED),
        (replace(ISSUED, status=CertificateStatus.RENEWING), ConditionStatus.TRUE, Reason.ISSUED),
        # the current version revoked: says more than expired or a failing renewal
        (replace(ISSUED, thumbprint="T1", status=CertificateStatus.REVOKED, failure_count=1,
                 not_after=NOW - timedelta(days=1), revoked=(RevokedVersion("v1", "T1", "0A", "keyCompromise", NOW),)),
         ConditionStatus.FALSE, Reason.REVOKED),
        # an older version revoked: the current one is Ready
        (replace(ISSUED, thumbprint="T2", revoked=(RevokedVersion("v0", "T1", "0A", "superseded", NOW),)),
         ConditionStatus.TRUE, Reason.ISSUED),
    ],
)
def test_ready(cert: Certificate, status: ConditionStatus, reason: Reason) -> None:
    ready = certificate_ready(cert, NOW)
    assert (ready.type, ready.status, ready.reason) == (ConditionType.READY, status, reason)


def test_ready_transition_times_are_the_facts_behind_them() -> None:
    assert certificate_ready(ISSUED, NOW).last_transition_time == ISSUED.secret_updated_on
    expired = replace(ISSUED, not_after=NOW - timedelta(hours=1))
    assert certificate_ready(expired, NOW).last_transition_time == expired.not_after


def test_failing_renewal_message_names_the_error_and_count() -> None:
    ready = certificate_ready(replace(ISSUED, failure_count=2, last_error="IssuerError: rate limited"), NOW)
    assert "2 failed" in ready.message and "rate limited" in ready.message


@pytest.mark.parametrize(
    ("status", "expected", "reason"),
    [
        (CertificateStatus.ISSUED, ConditionStatus.FALSE, Reason.IDLE),
        (CertificateStatus.EXPIRED, ConditionStatus.FALSE, Reason.IDLE),
        (CertificateStatus.RENEWING, ConditionStatus.TRUE, Reason.RENEWING),
        (CertificateStatus.REKEYING, ConditionStatus.TRUE, Reason.REKEYING),
        (CertificateStatus.PENDING_ISSUANCE, ConditionStatus.TRUE, Reason.PENDING_ISSUANCE),
    ],
)
def test_issuing(status: CertificateStatus, expected: ConditionStatus, reason: Reason) -> None:
    issuing = certificate_conditions(replace(ISSUED, status=status), NOW, 0, 0)[1]
    assert (issuing.type, issuing.status, issuing.reason) == (ConditionType.ISSUING, expected, reason)


@pytest.mark.parametrize(
    ("out_of_sync", "links", "status", "reason"),
    [
        (0, 0, ConditionStatus.TRUE, Reason.NO_LINKS),
        (0, 3, ConditionStatus.TRUE, Reason.IN_SYNC),
        (1, 3, ConditionStatus.FALSE, Reason.LINKS_OUT_OF_SYNC),
    ],
)
def test_certificate_in_sync(out_of_sync: int, links: int, status: ConditionStatus, reason: Reason) -> None:
    in_sync = certificate_conditions(ISSUED, NOW, out_of_sync, links)[2]
    assert (in_sync.type, in_sync.status, in_sync.reason) == (ConditionType.IN_SYNC, status, reason)


LINK = LinkedCertificate(
    name="l", scope="rg", secret_id="https://v/secrets/cert-c", thumbprint="AB", version="v1",
    not_after=NOW + timedelta(days=30), last_synced_at=NOW - timedelta(hours=2),
)


@pytest.mark.parametrize(
    ("state", "status", "reason"),
    [
        (LinkSyncState.IN_SYNC, ConditionStatus.TRUE, Reason.IN_SYNC),
        (LinkSyncState.BEHIND, ConditionStatus.FALSE, Reason.BEHIND),
        (LinkSyncState.BINDINGS_BEHIND, ConditionStatus.FALSE, Reason.BINDINGS_BEHIND),
        (LinkSyncState.FAILED, ConditionStatus.FALSE, Reason.SYNC_FAILED),
    ],
)
def test_link_in_sync(state: LinkSyncState, status: ConditionStatus, reason: Reason) -> None:
    in_sync = link_conditions(LINK, state, NOW)[1]
    assert (in_sync.type, in_sync.status, in_sync.reason) == (ConditionType.IN_SYNC, status, reason)
    assert in_sync.last_transition_time == (LINK.last_synced_at if status is ConditionStatus.TRUE else None)


@pytest.mark.parametrize(
    ("link", "status", "reason"),
    [
        (LINK, ConditionStatus.TRUE, Reason.SYNCED),
        (replace(LINK, thumbprint="", version=""), ConditionStatus.FALSE, Reason.NEVER_SYNCED),
        (replace(LINK, not_after=NOW), ConditionStatus.FALSE, Reason.EXPIRED),
    ],
)
def test_link_ready(link: LinkedCertificate, status: ConditionStatus, reason: Reason) -> None:
    ready = link_conditions(link, LinkSyncState.IN_SYNC, NOW)[0]
    assert (ready.type, ready.status, ready.reason) == (ConditionType.READY, status, reason)
