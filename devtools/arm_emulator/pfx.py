"""What App Service reads out of an imported PFX: thumbprint, names, dates, and the chain to serve.

Pure functions, no I/O: the certificate rules and the TLS front both use them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


class PfxError(ValueError):
    """The bytes are not a PFX App Service can import (says why, never echoes the bytes)."""


@dataclass(frozen=True)
class CertificateFacts:
    thumbprint: str  # SHA-1 of the DER leaf, upper-case hex, as App Service shows it
    subject_name: str
    issuer: str
    host_names: tuple[str, ...]
    issue_date: dt.datetime
    expiration_date: dt.datetime
    public_key_hash: str


def load_pfx(blob_b64: str, password: str | None = None) -> tuple[CertificateFacts, bytes]:
    """Parse a base64 PFX; returns its facts and a PEM bundle (key, leaf, chain) for serving."""
    try:
        raw = base64.b64decode(blob_b64, validate=True)
    except (binascii.Error, ValueError):
        raise PfxError("the value is not base64") from None
    try:
        key, leaf, extra = pkcs12.load_key_and_certificates(raw, password.encode("utf-8") if password else None)
    except ValueError:
        raise PfxError("the PFX cannot be opened without a password, or is not a PFX") from None
    if key is None or leaf is None:
        raise PfxError("the PFX has no private key and certificate")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pem += b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, *extra))
    return facts_of(leaf), pem


def facts_of(cert: x509.Certificate) -> CertificateFacts:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return CertificateFacts(
        thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),
        subject_name=_common_name(cert.subject) or cert.subject.rfc4514_string(),
        issuer=_common_name(cert.issuer) or cert.issuer.rfc4514_string(),
        host_names=_host_names(cert),
        issue_date=cert.not_valid_before_utc,
        expiration_date=cert.not_valid_after_utc,
        public_key_hash=digest.finalize().hex().upper(),
    )


def covers(cert_host_names: list[str] | tuple[str, ...], host_name: str) -> bool:
    """Exact match, or a wildcard `*.example.com` covering exactly one more label."""
    host = host_name.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in cert_host_names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def _host_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    if names:
        return names
    common = _common_name(cert.subject)
    return (common,) if common else ()
