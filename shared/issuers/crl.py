"""The local CA's certificate revocation list (RFC 5280 section 5): what goes on it, when it is
issued again, and its DER encoding. Pure; local_ca.py reads and writes the list's Table row.

The intermediate signs it: it is the issuer of every certificate the list names, so the CRL is
a direct one (issuer name and authority key identifier those of the intermediate), and the root
key, needed only to make a new intermediate, is never used online for it.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared.model import RevocationList, RevokedSerial
from shared.pki import PrivateKey, signature_hash

CRL_LIFETIME = timedelta(days=7)  # nextUpdate - thisUpdate
REISSUE_AFTER = timedelta(days=1)  # a read after this issues the list again, under a new number
# RFC 5280 5.1: an entry may leave once its certificate has expired, but only after it appeared on
# a CRL issued past that expiry; a CRL's lifetime later, every reader has seen such a CRL.
KEEP_AFTER_EXPIRY = CRL_LIFETIME


def with_entry(current: RevocationList, entry: RevokedSerial, now: datetime) -> RevocationList | None:
    """The list with `entry` added, issued again; None when the serial is on it already."""
    if any(e.serial == entry.serial for e in current.entries):
        return None
    return reissued(replace(current, entries=(*current.entries, entry)), now)


def needs_issue(current: RevocationList, now: datetime) -> bool:
    return current.this_update is None or now - current.this_update >= REISSUE_AFTER


def reissued(current: RevocationList, now: datetime) -> RevocationList:
    """The next CRL: a new number, thisUpdate now (whole seconds, as the DER carries them), and
    entries whose certificates expired long enough ago dropped."""
    kept = tuple(e for e in current.entries if e.not_after + KEEP_AFTER_EXPIRY > now)
    return replace(current, number=current.number + 1, this_update=now.replace(microsecond=0), entries=kept)


def build_crl(current: RevocationList, issuer: x509.Certificate, key: PrivateKey) -> bytes:
    """DER of the CRL `current` describes, signed by `key` (the issuer's)."""
    if current.this_update is None:
        raise ValueError("a revocation list that was never issued has no CRL")
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(current.this_update)
        .next_update(current.this_update + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(current.number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    for entry in current.entries:
        builder = builder.add_revoked_certificate(_revoked(entry))
    return builder.sign(key, signature_hash(key)).public_bytes(serialization.Encoding.DER)


def _revoked(entry: RevokedSerial) -> x509.RevokedCertificate:
    revoked = x509.RevokedCertificateBuilder().serial_number(int(entry.serial, 16)).revocation_date(entry.revoked_at)
    if entry.reason != x509.ReasonFlags.unspecified.value:  # RFC 5280 5.3.1: leave unspecified out
        revoked = revoked.add_extension(x509.CRLReason(x509.ReasonFlags(entry.reason)), critical=False)
    return revoked.build()
