"""Conditions in the cert-manager manner, pure: Ready, Issuing and InSync of a certificate and
Ready and InSync of a linked certificate, each True/False/Unknown with a reason from the fixed
list below, a message and lastTransitionTime.

Derived from the stored record on every read (nothing extra is stored), so the API, the metrics
(`certsync_certificate_ready_status`) and the dashboard cannot disagree. lastTransitionTime is the
recorded time of the fact behind the status (issuance, expiry, last sync); None when certsync
records no such time (e.g. a failed renewal: the operation holds that time, not the certificate).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.model import Certificate, CertificateStatus, LinkedCertificate
from shared.sync.planner import LinkSyncState


class ConditionType(StrEnum):
    READY = "Ready"
    ISSUING = "Issuing"
    IN_SYNC = "InSync"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Reason(StrEnum):
    """Every reason a condition can carry (documented in README and docs/openapi.json)."""

    # Ready (certificate)
    ISSUED = "Issued"  # True: issued, not expired, no failing renewal
    NOT_ISSUED = "NotIssued"  # False: first issuance pending
    ISSUANCE_FAILED = "IssuanceFailed"  # False: the first issuance failed
    EXPIRED = "Expired"  # False: notAfter has passed
    RENEWAL_FAILING = "RenewalFailing"  # False: still valid, but the last renewal or rekey failed
    REVOKED = "Revoked"  # False: the current version is revoked (a renewal replaces it)
    # Issuing (certificate)
    PENDING_ISSUANCE = "PendingIssuance"  # True
    RENEWING = "Renewing"  # True
    REKEYING = "Rekeying"  # True
    IDLE = "Idle"  # False: no issuance running
    # InSync (certificate: all its links; link: itself) and Ready (link)
    IN_SYNC = "InSync"  # True
    NO_LINKS = "NoLinks"  # True: nothing imports the certificate's secret
    LINKS_OUT_OF_SYNC = "LinksOutOfSync"  # False (certificate): at least one link is not in sync
    BEHIND = "Behind"  # False (link): does not hold the newest known version
    BINDINGS_BEHIND = "BindingsBehind"  # False (link): some bindings serve another certificate
    SYNC_FAILED = "SyncFailed"  # False (link): the last sync failed
    SYNCED = "Synced"  # True (link Ready): holds a version that has not expired
    NEVER_SYNCED = "NeverSynced"  # False (link Ready): holds no version yet


@dataclass(frozen=True)
class Condition:
    type: ConditionType
    status: ConditionStatus
    reason: Reason
    message: str
    last_transition_time: datetime | None

    @property
    def is_true(self) -> bool:
        return self.status is ConditionStatus.TRUE


def certificate_ready(cert: Certificate, now: datetime) -> Condition:
    """Ready: issued, not revoked, not expired, and no failing renewal."""
    def ready(status: ConditionStatus, reason: Reason, message: str, at: datetime | None) -> Condition:
        return Condition(ConditionType.READY, status, reason, message, at)

    if not cert.has_been_issued:
        if cert.status is CertificateStatus.FAILED:
            return ready(ConditionStatus.FALSE, Reason.ISSUANCE_FAILED, f"issuance failed: {cert.last_error}", None)
        return ready(ConditionStatus.FALSE, Reason.NOT_ISSUED, "the certificate has not been issued yet", None)
    revoked = cert.revocation_of(cert.thumbprint) if cert.current_revoked else None
    if revoked is not None:
        message = f"version {cert.secret_version} was revoked ({revoked.reason})"
        return ready(ConditionStatus.FALSE, Reason.REVOKED, message, revoked.revoked_at)
    if cert.not_after is not None and cert.not_after <= now:
        return ready(ConditionStatus.FALSE, Reason.EXPIRED, "the certificate has expired", cert.not_after)
    if cert.failure_count > 0:
        message = f"{cert.failure_count} failed renewal attempt(s): {cert.last_error}"
        return ready(ConditionStatus.FALSE, Reason.RENEWAL_FAILING, message, None)
    issued_at = cert.secret_updated_on or cert.not_before
    return ready(ConditionStatus.TRUE, Reason.ISSUED, f"version {cert.secret_version} is valid", issued_at)


_ISSUING = {
    CertificateStatus.PENDING_ISSUANCE: Reason.PENDING_ISSUANCE,
    CertificateStatus.RENEWING: Reason.RENEWING,
    CertificateStatus.REKEYING: Reason.REKEYING,
}


def certificate_issuing(cert: Certificate) -> Condition:
    reason = _ISSUING.get(cert.status)
    if reason is None:
        return Condition(ConditionType.ISSUING, ConditionStatus.FALSE, Reason.IDLE, "no issuance is running", None)
    running = f" (operation {cert.active_operation})" if cert.active_operation else ""
    return Condition(ConditionType.ISSUING, ConditionStatus.TRUE, reason, f"{reason.value}{running}", None)


def certificate_in_sync(out_of_sync_links: int, links: int) -> Condition:
    kind, true, false = ConditionType.IN_SYNC, ConditionStatus.TRUE, ConditionStatus.FALSE
    if links == 0:
        return Condition(kind, true, Reason.NO_LINKS, "no link imports the secret", None)
    if out_of_sync_links == 0:
        return Condition(kind, true, Reason.IN_SYNC, f"all {links} link(s) in sync", None)
    return Condition(kind, false, Reason.LINKS_OUT_OF_SYNC, f"{out_of_sync_links} of {links} link(s) out of sync", None)


def certificate_conditions(cert: Certificate, now: datetime, out_of_sync_links: int, links: int) -> list[Condition]:
    return [certificate_ready(cert, now), certificate_issuing(cert), certificate_in_sync(out_of_sync_links, links)]


_LINK_IN_SYNC = {
    LinkSyncState.IN_SYNC: (ConditionStatus.TRUE, Reason.IN_SYNC, "the link and its bindings hold the newest version"),
    LinkSyncState.BEHIND: (ConditionStatus.FALSE, Reason.BEHIND, "the link does not hold the newest known version"),
    LinkSyncState.BINDINGS_BEHIND: (
        ConditionStatus.FALSE, Reason.BINDINGS_BEHIND, "some bindings serve another certificate than the link"
    ),
    LinkSyncState.FAILED: (ConditionStatus.FALSE, Reason.SYNC_FAILED, "the last sync failed"),
}


def link_conditions(
    link: LinkedCertificate, state: LinkSyncState, now: datetime, sync_error: str = ""
) -> list[Condition]:
    """Ready: the link holds a version that has not expired; InSync: planner.link_sync_state
    (`sync_error`: planner.sync_error, why a sync cannot bring the link to the newest version)."""
    kind, true, false = ConditionType.READY, ConditionStatus.TRUE, ConditionStatus.FALSE
    if not link.thumbprint:
        ready = Condition(kind, false, Reason.NEVER_SYNCED, "no version yet", None)
    elif link.not_after is not None and link.not_after <= now:
        ready = Condition(kind, false, Reason.EXPIRED, "its version expired", link.not_after)
    else:
        ready = Condition(kind, true, Reason.SYNCED, f"serves version {link.version}", link.last_synced_at)
    status, reason, message = _LINK_IN_SYNC[state]
    if state is LinkSyncState.FAILED:
        message = f"the last sync failed: {link.last_sync_error}" if link.last_sync_error else (
            f"the newest version cannot be synced: {sync_error}"
        )
    since = link.last_synced_at if status is ConditionStatus.TRUE else None
    return [ready, Condition(ConditionType.IN_SYNC, status, reason, message, since)]


def find(conditions: Iterable[Condition], kind: ConditionType) -> Condition | None:
    return next((c for c in conditions if c.type is kind), None)
