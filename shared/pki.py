"""PKI building blocks, one function for each thing: keys, fingerprints, PFX, CSRs, usability.

Everything that touches key or certificate bytes goes through here, so there is one
thumbprint format, one PFX parser and one answer to "may a binding point at this certificate?".
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from shared.errors import BadRequest
from shared.hostnames import covers

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

MAX_COMMON_NAME_LENGTH = 64  # RFC 5280 upper bound; longer names live only in the SAN


class KeyType(StrEnum):
    RSA2048 = "RSA2048"
    RSA3072 = "RSA3072"
    RSA4096 = "RSA4096"
    EC256 = "EC256"
    EC384 = "EC384"


DEFAULT_KEY_TYPE = KeyType.RSA2048  # what every App Service client and older TLS stack accepts

_RSA_SIZES = {KeyType.RSA2048: 2048, KeyType.RSA3072: 3072, KeyType.RSA4096: 4096}
_EC_CURVES: dict[KeyType, type[ec.EllipticCurve]] = {KeyType.EC256: ec.SECP256R1, KeyType.EC384: ec.SECP384R1}


def generate_private_key(key_type: KeyType = DEFAULT_KEY_TYPE) -> PrivateKey:
    key_type = KeyType(key_type)
    if key_type in _RSA_SIZES:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_SIZES[key_type])
    return ec.generate_private_key(_EC_CURVES[key_type]())


def key_type_of(key: PrivateKey | PublicKey | CertificatePublicKeyTypes) -> KeyType:
    """Classify a key (private, or the public key of a CSR); anything outside KeyType is refused."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        for key_type, size in _RSA_SIZES.items():
            if key.key_size == size:
                return key_type
        raise BadRequest(f"RSA keys must be 2048, 3072 or 4096 bits, not {key.key_size}", code="UnsupportedKeyType")
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        for key_type, curve in _EC_CURVES.items():
            if isinstance(key.curve, curve):
                return key_type
        raise BadRequest(f"EC keys must use P-256 or P-384, not {key.curve.name}", code="UnsupportedKeyType")
    raise BadRequest(f"unsupported key type {type(key).__name__}; use RSA or EC", code="UnsupportedKeyType")


def thumbprint(cert: x509.Certificate) -> str:
    """SHA-1 of the DER certificate in uppercase hex: the identifier Azure shows and binds by."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def sha256_fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex().upper()


def dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The SAN DNS names, lowercase; the subject CN is ignored, as modern clients ignore it."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(name.lower() for name in san.get_values_for_type(x509.DNSName))


def key_matches(key: PrivateKey, cert: x509.Certificate) -> bool:
    return public_key_matches(key.public_key(), cert)


def public_key_matches(public_key: CertificatePublicKeyTypes, cert: x509.Certificate) -> bool:
    return _public_key_der(public_key) == _public_key_der(cert.public_key())


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    """The hash a CA signs with: matched to the curve strength (SHA-384 for P-384), else SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def serial_hex(cert: x509.Certificate) -> str:
    """Uppercase hex, padded to whole bytes as openssl and the Azure portal print it."""
    text = f"{cert.serial_number:X}"
    return text.zfill(len(text) + len(text) % 2)


@dataclass(frozen=True, repr=False, eq=False)
class CertificateBundle:
    """A leaf certificate, its private key and its chain (leaf excluded, leaf->root order).

    Compare bundles by thumbprint; equality of key objects would mean nothing.
    """

    private_key: PrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.certificate)

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def serial(self) -> str:
        return serial_hex(self.certificate)

    def __repr__(self) -> str:
        # Never the key: bundles end up in logs and operation records.
        return (
            f"CertificateBundle(subject={self.certificate.subject.rfc4514_string()!r}, "
            f"thumbprint={self.thumbprint}, not_after={self.not_after.isoformat()}, chain={len(self.chain)})"
        )


def to_pfx_base64(bundle: CertificateBundle, friendly_name: str | None = None) -> str:
    """PKCS#12 without a password, base64: the only form App Service Key Vault references load."""
    data = pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8") if friendly_name else None,
        bundle.private_key,
        bundle.certificate,
        list(bundle.chain) or None,
        serialization.NoEncryption(),
    )
    return base64.b64encode(data).decode("ascii")


def parse_pfx_base64(value: str) -> CertificateBundle:
    """Read a password-less base64 PFX, finding the leaf by its key whatever the bag order."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("PFX is empty", code="InvalidPfx")
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("PFX is not valid base64", code="InvalidPfx") from None
    loaded = _load_pkcs12(data)
    key = loaded.key
    if key is None:
        raise BadRequest("PFX holds no private key", code="InvalidPfx")
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise BadRequest(f"PFX key type {type(key).__name__} is not supported; use RSA or EC", code="InvalidPfx")
    paired = [loaded.cert.certificate] if loaded.cert else []
    certs = _unique(paired + [bag.certificate for bag in loaded.additional_certs])
    if not certs:
        raise BadRequest("PFX holds no certificate", code="InvalidPfx")
    leaves = [cert for cert in certs if key_matches(key, cert)]
    if not leaves:
        raise BadRequest("PFX private key matches none of its certificates", code="KeyMismatch")
    # The certificate load_pkcs12 pairs with the key comes first, so it wins over any other
    # certificate for the same key (an older issue); those are left out of the chain.
    leaf = leaves[0]
    try:
        list(leaf.extensions)  # parse now: a malformed extension must not surface later as a crash
    except ValueError as err:
        raise BadRequest(f"PFX certificate has a malformed extension: {str(err)[:120]}", code="InvalidPfx") from None
    others = [cert for cert in certs if cert not in leaves]
    return CertificateBundle(private_key=key, certificate=leaf, chain=order_chain(leaf, others))


def order_chain(leaf: x509.Certificate, certs: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """Order `certs` from the leaf's issuer up to the root; certificates off the path go last."""
    remaining = list(certs)
    ordered: list[x509.Certificate] = []
    current = leaf
    while remaining and not _is_self_issued(current):
        parent = next((c for c in remaining if _issued_by(current, c)), None)
        if parent is None:
            break
        ordered.append(parent)
        remaining.remove(parent)
        current = parent
    return tuple(ordered + remaining)


def build_csr(key: PrivateKey, hostnames: Iterable[str]) -> x509.CertificateSigningRequest:
    """A CSR for already-normalised hostnames: all in the SAN, the first as CN when it fits."""
    names = tuple(hostnames)
    if not names:
        raise ValueError("a CSR needs at least one hostname")
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject_for(names))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )


def subject_for(hostnames: Sequence[str]) -> x509.Name:
    """CN = first hostname when it fits in 64 characters, else an empty subject (SAN carries all)."""
    first = hostnames[0]
    if len(first) <= MAX_COMMON_NAME_LENGTH:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first)])
    return x509.Name([])


def check_usable(bundle: CertificateBundle, hostnames: Iterable[str], now: datetime) -> None:
    """Refuse a certificate an SSL binding must not point at: out of date, wrong key, wrong names."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if now >= bundle.not_after:
        raise BadRequest(
            f"certificate {bundle.thumbprint} expired at {bundle.not_after.isoformat()}", code="CertificateExpired"
        )
    if now < bundle.not_before:
        raise BadRequest(
            f"certificate {bundle.thumbprint} is not valid before {bundle.not_before.isoformat()}",
            code="CertificateNotYetValid",
        )
    if not key_matches(bundle.private_key, bundle.certificate):
        raise BadRequest(f"certificate {bundle.thumbprint} does not match its private key", code="KeyMismatch")
    names = dns_names(bundle.certificate)
    for hostname in hostnames:
        if not covers(names, hostname):
            raise BadRequest(
                f"certificate {bundle.thumbprint} does not cover hostname {hostname[:100]!r}",
                code="HostnameNotCovered",
            )


def certificates_to_pem(certs: Iterable[x509.Certificate]) -> str:
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode("ascii") for cert in certs)


def certificates_from_pem(text: str) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(x509.load_pem_x509_certificates(text.encode("ascii")))
    except (ValueError, UnicodeError):
        raise BadRequest("not a PEM certificate list", code="InvalidPem") from None


def private_key_to_pem(key: PrivateKey) -> str:
    """Unencrypted PKCS#8: callers keep it only inside Key Vault, which is the protection."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def private_key_from_pem(text: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm):
        raise BadRequest("not an unencrypted PEM private key", code="InvalidPem") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise BadRequest(f"unsupported key type {type(key).__name__}; use RSA or EC", code="UnsupportedKeyType")
    return key


def _load_pkcs12(data: bytes) -> pkcs12.PKCS12KeyAndCertificates:
    # None and b"" both mean "no password"; tools disagree on which one they write.
    try:
        return pkcs12.load_pkcs12(data, None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass
    try:
        return pkcs12.load_pkcs12(data, b"")
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise BadRequest(
            "PFX cannot be read: it is not PKCS#12, is damaged, or is protected by a password "
            "(certsync needs a PFX without a password)",
            code="InvalidPfx",
        ) from None


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[bytes] = set()
    result = []
    for cert in certs:
        fingerprint = cert.fingerprint(hashes.SHA256())
        if fingerprint not in seen:
            seen.add(fingerprint)
            result.append(cert)
    return result


def _is_self_issued(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _public_key_der(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
