"""Revocation decisions, pure: the RFC 5280 reasons, which ones a CA takes, and the safety rule
that a binding never points at a revoked certificate.

Reasons travel by their RFC 5280 CRLReason names (the names `cryptography`'s x509.ReasonFlags
uses too); ACME (RFC 8555 section 7.6) sends the number.
"""
from __future__ import annotations

from enum import StrEnum

from shared.errors import BadRequest
from shared.model import Certificate, RevokedVersion


class Reason(StrEnum):
    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "cACompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    CERTIFICATE_HOLD = "certificateHold"
    REMOVE_FROM_CRL = "removeFromCRL"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"
    AA_COMPROMISE = "aACompromise"


# RFC 5280 section 5.3.1 (7 is unused).
REASON_CODES: dict[Reason, int] = {
    Reason.UNSPECIFIED: 0,
    Reason.KEY_COMPROMISE: 1,
    Reason.CA_COMPROMISE: 2,
    Reason.AFFILIATION_CHANGED: 3,
    Reason.SUPERSEDED: 4,
    Reason.CESSATION_OF_OPERATION: 5,
    Reason.CERTIFICATE_HOLD: 6,
    Reason.REMOVE_FROM_CRL: 8,
    Reason.PRIVILEGE_WITHDRAWN: 9,
    Reason.AA_COMPROMISE: 10,
}

# What a subscriber may ask of the local CA: every permanent reason about one certificate. Not
# cACompromise/aACompromise (about a CA, not a leaf), certificateHold (temporary: certsync never
# un-revokes) or removeFromCRL (delta CRLs only).
LOCAL_CA_REASONS = frozenset(
    {
        Reason.UNSPECIFIED,
        Reason.KEY_COMPROMISE,
        Reason.AFFILIATION_CHANGED,
        Reason.SUPERSEDED,
        Reason.CESSATION_OF_OPERATION,
        Reason.PRIVILEGE_WITHDRAWN,
    }
)
# What Let's Encrypt accepts from a subscriber (letsencrypt.org/docs/revoking); others are
# refused with badRevocationReason, so certsync refuses them before asking.
ACME_REASONS = frozenset({Reason.UNSPECIFIED, Reason.KEY_COMPROMISE, Reason.SUPERSEDED, Reason.CESSATION_OF_OPERATION})


def parse_reason(value: object, allowed: frozenset[Reason]) -> Reason:
    """The reason named by `value`, or 400 InvalidRevocationReason naming the ones `allowed`."""
    names = ", ".join(r.value for r in sorted(allowed, key=REASON_CODES.__getitem__))
    try:
        reason = Reason(value) if isinstance(value, str) else None
    except ValueError:
        reason = None
    if reason is None or reason not in allowed:
        shown = repr(value)[:60]
        raise BadRequest(
            f"revocation reason {shown} is not accepted for this certificate's issuer; use one of {names}",
            code="InvalidRevocationReason",
        )
    return reason


def reason_code(reason: Reason) -> int:
    return REASON_CODES[reason]


def check_not_revoked(cert: Certificate | None, thumbprint: str) -> None:
    """The safety rule: refuse to point a binding (or a link a sync moves) at a revoked version."""
    found = cert.revocation_of(thumbprint) if cert is not None else None
    if found is not None:
        raise BadRequest(revoked_message(found), code="CertificateRevoked")


def revoked_message(found: RevokedVersion) -> str:
    return (
        f"certificate {found.thumbprint} was revoked ({found.reason}) at {found.revoked_at.isoformat()}; "
        "a renewal replaces it"
    )


def may_reuse_key(cert: Certificate) -> bool:
    """A renewal may keep the key (reuseKey) unless the current version is revoked, or any
    version was revoked for keyCompromise (with reuseKey its successors share that key)."""
    compromised = any(r.reason == Reason.KEY_COMPROMISE.value for r in cert.revoked)
    return cert.reuse_key and not (cert.current_revoked or compromised)
