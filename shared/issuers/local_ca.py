"""The embedded "local" issuer: a private root and intermediate CA, for development and private networks.

The CA lives in one Key Vault secret so every function instance signs with the same
intermediate and GET /api/ca/root.pem always returns the root clients must trust.

Creation race: two instances that both find the secret missing both create a CA and write
it. Each then reads back the *latest* version instead of trusting its own. Key Vault hands
that latest version to every reader, and versions are never rewritten, so once the racing
writes are done every instance that loads the CA - including all later cold starts - uses
the same one. The only outlier is a creator whose read-back ran before the other write
landed: it keeps the losing CA in memory until it restarts. That needs two first uses of an
empty vault within the same second or so, and what it issues still carries its own chain.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.clock import utcnow
from shared.errors import (
    BadRequest,
    CertsyncError,
    Conflict,
    DependencyError,
    IssuerError,
    NotFound,
    PreconditionFailed,
)
from shared.hostnames import normalize_hostnames
from shared.issuers import crl
from shared.issuers.base import IssuedCertificate, IssuerCapabilities, IssueRequest, PrivateKey, RenewalInfo
from shared.model import RevocationList, RevokedSerial
from shared.pki import (
    KeyType,
    certificates_from_pem,
    certificates_to_pem,
    key_matches,
    key_type_of,
    private_key_from_pem,
    private_key_to_pem,
    serial_hex,
    signature_hash,
    subject_for,
)
from shared.ports import RevocationListStore, SecretStore
from shared.revocation import LOCAL_CA_REASONS, Reason

SECRET_CONTENT_TYPE = "application/json"  # JSON of PEMs; distinct from the PFX secrets' type
SECRET_FORMAT = 1
MAX_VALIDITY_DAYS = 397  # the CA/Browser Forum limit; clients such as Safari enforce it
BACKDATE = timedelta(minutes=5)  # tolerate clients whose clocks run a little behind
ROOT_VALIDITY = timedelta(days=3652)  # 10 years
INTERMEDIATE_VALIDITY = timedelta(days=1826)  # 5 years
ROOT_COMMON_NAME = "certsync local root CA"
INTERMEDIATE_COMMON_NAME = "certsync local intermediate CA"
_RSA_KEY_TYPES = {KeyType.RSA2048, KeyType.RSA3072, KeyType.RSA4096}
LIST_WRITE_TRIES = 5  # read-modify-writes of the revocation list row that lost a race


@dataclass(frozen=True, repr=False)
class CertificateAuthority:
    """The root and intermediate with their keys; repr names them and never shows the keys."""

    root: x509.Certificate
    root_key: PrivateKey
    intermediate: x509.Certificate
    intermediate_key: PrivateKey

    def __repr__(self) -> str:
        return (
            f"CertificateAuthority(root={self.root.subject.rfc4514_string()!r}, "
            f"intermediate_not_after={self.intermediate.not_valid_after_utc.isoformat()})"
        )


class LocalCA:
    """Issuer "local": signs server certificates with the intermediate kept in Key Vault."""

    name = "local"
    # It chooses notAfter itself; its chain is two EC P-384 certificates (about 1.2 KB in all).
    capabilities = IssuerCapabilities(
        rekey_keeps_not_after=True, max_chain_der_bytes=4096, revocation_reasons=LOCAL_CA_REASONS
    )
    default_profile = ""

    def __init__(
        self,
        vault: SecretStore,
        *,
        revocations: RevocationListStore | None = None,
        secret_name: str = "certsync-local-ca",
        default_validity_days: int = 365,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not 1 <= default_validity_days <= MAX_VALIDITY_DAYS:
            raise ValueError(f"default_validity_days must be 1..{MAX_VALIDITY_DAYS}")
        self._vault = vault
        self._revocations = revocations
        self._secret_name = secret_name
        self._default_validity_days = default_validity_days
        self._clock = clock
        self._lock = threading.Lock()  # the Functions worker may run invocations on several threads
        self._authority: CertificateAuthority | None = None

    def issue(self, request: IssueRequest) -> IssuedCertificate:
        hostnames = normalize_hostnames(request.hostnames)
        if not request.csr.is_signature_valid:
            raise BadRequest("the certificate signing request has an invalid signature", code="InvalidCsr")
        public_key = request.csr.public_key()
        key_type = key_type_of(public_key)
        authority = self._load()
        now = self._clock()
        not_before, not_after = leaf_validity(
            now,
            default_days=self._default_validity_days,
            validity_days=request.validity_days,
            not_after=request.not_after,
            issuer_not_after=authority.intermediate.not_valid_after_utc,
        )
        certificate = _sign_leaf(authority, public_key, key_type, hostnames, not_before, not_after)
        return IssuedCertificate(certificate=certificate, chain=(authority.intermediate, authority.root))

    def check_profile(self, profile: str) -> None:
        if profile:
            raise BadRequest("the local issuer has no profiles; leave profile out", code="UnknownProfile")

    def renewal_info(self, ari_id: str) -> RenewalInfo | None:
        return None  # the local CA gives no renewal advice: the default renewal time applies

    def revoke(self, certificate: x509.Certificate, reason: Reason) -> bool:
        """Put the certificate's serial on the revocation list (the next CRL names it); True when
        it was there already. Only certificates this CA's intermediate signed."""
        authority = self._existing()
        try:
            certificate.verify_directly_issued_by(authority.intermediate)
        except (ValueError, TypeError, InvalidSignature):
            raise IssuerError(
                f"certificate {serial_hex(certificate)} was not issued by this local CA", code="NotIssuedHere"
            ) from None
        now = self._clock()
        entry = RevokedSerial(serial_hex(certificate), reason.value, now, certificate.not_valid_after_utc)
        return self._write_list(lambda current: crl.with_entry(current, entry, now)) is None

    def crl_der(self) -> bytes:
        """The CRL (DER), signed by the intermediate. Issued again under a new number once a day
        when read, so nextUpdate never passes while someone reads it. Never creates the CA."""
        authority = self._existing()
        now = self._clock()
        issued = self._write_list(lambda rl: crl.reissued(rl, now) if crl.needs_issue(rl, now) else None)
        current = issued or (self._revocations.find() if self._revocations else None) or RevocationList()
        return crl.build_crl(current, authority.intermediate, authority.intermediate_key)

    def _write_list(self, change: Callable[[RevocationList], RevocationList | None]) -> RevocationList | None:
        """Read the list, apply `change` (None: nothing to write) and write it with its ETag;
        a lost race reads again. Returns what was written, or None."""
        if self._revocations is None:  # only a test builds the CA without its list
            raise IssuerError("this local CA keeps no revocation list", code="RevocationUnavailable")
        for _ in range(LIST_WRITE_TRIES):
            current = self._revocations.find()
            updated = change(current or RevocationList())
            if updated is None:
                return None
            try:
                return self._revocations.save(updated) if current else self._revocations.add(updated)
            except (PreconditionFailed, Conflict):
                continue
        raise PreconditionFailed("the local CA's revocation list kept changing; retry", code="ConcurrentChange")

    def root_certificate_pem(self) -> str:
        """The root for people to trust. Never creates the CA: anonymous callers must not cause
        a key to be generated and written (NotFound until the first local certificate)."""
        return certificates_to_pem([self._existing().root])

    def _existing(self) -> CertificateAuthority:
        with self._lock:
            if self._authority is None:
                try:
                    self._authority = self._read_latest()
                except NotFound:
                    raise NotFound(
                        "the local CA does not exist yet: it is created with the first local certificate",
                        code="LocalCANotCreated",
                    ) from None
            return self._authority

    def _load(self) -> CertificateAuthority:
        with self._lock:
            if self._authority is None:
                self._authority = self._read_or_create()
            return self._authority

    def _read_or_create(self) -> CertificateAuthority:
        try:
            return self._read_latest()
        except NotFound:
            pass
        created = create_authority(self._clock())
        self._vault.set_secret(
            self._secret_name,
            authority_to_json(created),
            content_type=SECRET_CONTENT_TYPE,
            tags={"certsync": "local-ca"},
        )
        # Not `return created`: another instance may have written too (see the module docstring).
        try:
            return self._read_latest()
        except NotFound:
            raise DependencyError(
                f"local CA secret {self._secret_name} was written but cannot be read back yet",
                code="LocalCAUnavailable",
            ) from None

    def _read_latest(self) -> CertificateAuthority:
        secret = self._vault.get_secret(self._secret_name)
        try:
            return authority_from_json(secret.value or "")
        except (CertsyncError, ValueError, KeyError, TypeError, x509.ExtensionNotFound) as err:
            # Say what is wrong with the secret, never what it holds.
            reason = err.message if isinstance(err, CertsyncError) else _reason(err)
            raise IssuerError(
                f"local CA secret {self._secret_name} (version {secret.version}) is unusable: {reason}",
                code="LocalCAInvalid",
            ) from None


def leaf_validity(
    now: datetime,
    *,
    default_days: int,
    validity_days: int | None,
    not_after: datetime | None,
    issuer_not_after: datetime,
) -> tuple[datetime, datetime]:
    """(notBefore, notAfter) for a leaf: backdated a little, at most 397 days, never past its issuer."""
    if validity_days is not None and not 1 <= validity_days <= MAX_VALIDITY_DAYS:
        raise BadRequest(
            f"validity must be 1 to {MAX_VALIDITY_DAYS} days, not {validity_days}", code="InvalidValidity"
        )
    latest = now + timedelta(days=MAX_VALIDITY_DAYS)
    if not_after is not None:
        if not_after.tzinfo is None:
            raise ValueError("not_after must be timezone-aware")
        if not_after <= now:
            raise BadRequest(f"not_after {not_after.isoformat()} is not in the future", code="InvalidValidity")
        end = min(not_after, latest)
    else:
        end = now + timedelta(days=validity_days or default_days)
    # A leaf outliving its intermediate would fail validation in its last days anyway.
    end = min(end, issuer_not_after)
    if end <= now:
        raise IssuerError(
            f"the local CA intermediate expired at {issuer_not_after.isoformat()}", code="LocalCAExpired"
        )
    return now - BACKDATE, end


def create_authority(now: datetime) -> CertificateAuthority:
    """A fresh root (10 years, pathlen 1) and intermediate (5 years, pathlen 0), both EC P-384."""
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = _name(ROOT_COMMON_NAME)
    root = _sign_ca(
        subject=root_name,
        public_key=root_key.public_key(),
        issuer=root_name,
        issuer_key=root_key,
        issuer_ski=x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
        path_length=1,
        not_before=now - BACKDATE,
        not_after=now + ROOT_VALIDITY,
    )
    intermediate_key = ec.generate_private_key(ec.SECP384R1())
    intermediate = _sign_ca(
        subject=_name(INTERMEDIATE_COMMON_NAME),
        public_key=intermediate_key.public_key(),
        issuer=root_name,
        issuer_key=root_key,
        issuer_ski=_ski(root),
        path_length=0,
        not_before=now - BACKDATE,
        not_after=min(now + INTERMEDIATE_VALIDITY, root.not_valid_after_utc),
    )
    return CertificateAuthority(
        root=root, root_key=root_key, intermediate=intermediate, intermediate_key=intermediate_key
    )


def authority_to_json(authority: CertificateAuthority) -> str:
    return json.dumps(
        {
            "format": SECRET_FORMAT,
            "root_certificate": certificates_to_pem([authority.root]),
            "root_key": private_key_to_pem(authority.root_key),
            "intermediate_certificate": certificates_to_pem([authority.intermediate]),
            "intermediate_key": private_key_to_pem(authority.intermediate_key),
        }
    )


def authority_from_json(text: str) -> CertificateAuthority:
    """Parse and sanity-check the stored CA; a hand-edited or truncated secret must fail loudly."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != SECRET_FORMAT:
        raise ValueError("not a certsync local CA document of a known format")
    authority = CertificateAuthority(
        root=_one_certificate(data["root_certificate"]),
        root_key=private_key_from_pem(data["root_key"]),
        intermediate=_one_certificate(data["intermediate_certificate"]),
        intermediate_key=private_key_from_pem(data["intermediate_key"]),
    )
    if not key_matches(authority.root_key, authority.root):
        raise ValueError("root key does not match the root certificate")
    if not key_matches(authority.intermediate_key, authority.intermediate):
        raise ValueError("intermediate key does not match the intermediate certificate")
    try:
        authority.intermediate.verify_directly_issued_by(authority.root)
    except InvalidSignature:
        raise ValueError("intermediate is not signed by the root") from None
    return authority


def _sign_leaf(
    authority: CertificateAuthority,
    public_key: CertificatePublicKeyTypes,
    key_type: KeyType,
    hostnames: tuple[str, ...],
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    subject = subject_for(hostnames)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.intermediate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())  # 159 random bits
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=key_type in _RSA_KEY_TYPES), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        # RFC 5280 4.2.1.6: with an empty subject the SAN must be critical.
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in hostnames]), critical=len(subject) == 0
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(authority.intermediate)),
            critical=False,
        )
        .sign(authority.intermediate_key, signature_hash(authority.intermediate_key))
    )


def _sign_ca(
    *,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: PrivateKey,
    issuer_ski: x509.SubjectKeyIdentifier,
    path_length: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False)
        .sign(issuer_key, signature_hash(issuer_key))
    )


def _key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _ski(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _reason(err: Exception) -> str:
    # Our own ValueErrors describe the defect; json/KeyError messages may quote secret text.
    if isinstance(err, KeyError):
        return f"missing field {err.args[0]!r}"[:100]
    if isinstance(err, json.JSONDecodeError):
        return "not JSON"
    return str(err)[:200] if isinstance(err, ValueError) else type(err).__name__


def _one_certificate(pem: str) -> x509.Certificate:
    certs = certificates_from_pem(pem)
    if len(certs) != 1:
        raise ValueError(f"expected one certificate, found {len(certs)}")
    return certs[0]
