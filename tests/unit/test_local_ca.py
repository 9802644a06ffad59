"""The local CA issuer against an in-memory stand-in for the two Vault methods it uses."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from shared.errors import BadRequest, IssuerError, NotFound
from shared.issuers.base import IssuedCertificate, IssueRequest
from shared.issuers.local_ca import (
    BACKDATE,
    SECRET_CONTENT_TYPE,
    LocalCA,
    authority_to_json,
    create_authority,
    leaf_validity,
)
from shared.pki import (
    CertificateBundle,
    KeyType,
    build_csr,
    certificates_from_pem,
    check_usable,
    dns_names,
    generate_private_key,
    key_matches,
    parse_pfx_base64,
    thumbprint,
    to_pfx_base64,
)
from shared.vault import SecretVersion

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)


class FakeVault:
    """get_secret/set_secret with versions, latest last, as Key Vault behaves for one secret."""

    def __init__(self) -> None:
        self.versions: dict[str, list[SecretVersion]] = {}
        self.writes = 0
        self.reads = 0
        self.after_write: Callable[[], None] | None = None

    def get_secret(self, name: str, version: str | None = None) -> SecretVersion:
        self.reads += 1
        for stored in reversed(self.versions.get(name, [])):
            if version is None or stored.version == version:
                return stored
        raise NotFound(f"secret {name} was not found in Key Vault", code="SecretNotFound")

    def set_secret(self, name: str, value: str, *, content_type=None, tags=None, not_before=None, expires_on=None):
        self.writes += 1
        version = uuid.uuid4().hex
        stored = SecretVersion(
            name=name, version=version, id=f"https://vault.test/secrets/{name}/{version}", content_type=content_type,
            enabled=True, updated_on=NOW, tags=dict(tags or {}), value=value,
        )
        self.versions.setdefault(name, []).append(stored)
        if self.after_write:
            hook, self.after_write = self.after_write, None
            hook()
        return stored


@pytest.fixture(scope="module")
def keys() -> dict[KeyType, object]:
    return {KeyType.RSA2048: generate_private_key(KeyType.RSA2048), KeyType.EC256: generate_private_key(KeyType.EC256)}


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault()


@pytest.fixture
def ca(vault: FakeVault) -> LocalCA:
    return LocalCA(vault, clock=lambda: NOW)


def _issue(ca: LocalCA, key, hostnames=("www.example.com", "*.example.com"), **kwargs) -> IssuedCertificate:
    return ca.issue(IssueRequest.for_key(hostnames=tuple(hostnames), private_key=key, **kwargs))


def _root(ca: LocalCA) -> x509.Certificate:
    (root,) = certificates_from_pem(ca.root_certificate_pem())
    return root


def _verify(ca: LocalCA, issued: IssuedCertificate, hostname: str, at: datetime = NOW) -> None:
    verifier = (
        PolicyBuilder().store(Store([_root(ca)])).time(at).build_server_verifier(x509.DNSName(hostname))
    )
    verifier.verify(issued.certificate, list(issued.chain))


def _ext(cert: x509.Certificate, kind):
    return cert.extensions.get_extension_for_class(kind)


# --- issuing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("key_type", [KeyType.RSA2048, KeyType.EC256])
@pytest.mark.parametrize("hostname", ["www.example.com", "shop.example.com"])
def test_chain_verifies_to_root(ca: LocalCA, keys, key_type: KeyType, hostname: str) -> None:
    _verify(ca, _issue(ca, keys[key_type]), hostname)


@pytest.mark.parametrize("hostname", ["example.com", "a.b.example.com", "www.example.org"])
def test_chain_does_not_verify_for_other_names(ca: LocalCA, keys, hostname: str) -> None:
    with pytest.raises(VerificationError):
        _verify(ca, _issue(ca, keys[KeyType.EC256]), hostname)


def test_chain_does_not_verify_after_expiry(ca: LocalCA, keys) -> None:
    with pytest.raises(VerificationError):
        _verify(ca, _issue(ca, keys[KeyType.EC256]), "www.example.com", at=NOW + timedelta(days=366))


def test_leaf_contents(ca: LocalCA, keys) -> None:
    key = keys[KeyType.EC256]
    issued = _issue(ca, key)
    leaf, (intermediate, root) = issued.certificate, issued.chain
    assert key_matches(key, leaf)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "www.example.com"
    assert leaf.issuer == intermediate.subject
    assert dns_names(leaf) == ("www.example.com", "*.example.com")
    assert not _ext(leaf, x509.SubjectAlternativeName).critical
    assert list(_ext(leaf, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    basic = _ext(leaf, x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    assert _ext(leaf, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = _ext(leaf, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == _ext(intermediate, x509.SubjectKeyIdentifier).value.digest
    assert 0 < leaf.serial_number < 2**159
    assert root == _root(ca)


@pytest.mark.parametrize("key_type, key_encipherment", [(KeyType.RSA2048, True), (KeyType.EC256, False)])
def test_key_usage_depends_on_key_type(ca: LocalCA, keys, key_type: KeyType, key_encipherment: bool) -> None:
    usage = _ext(_issue(ca, keys[key_type]).certificate, x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert usage.value.key_encipherment is key_encipherment
    assert not usage.value.key_cert_sign


def test_serials_differ(ca: LocalCA, keys) -> None:
    serials = {_issue(ca, keys[KeyType.EC256]).certificate.serial_number for _ in range(5)}
    assert len(serials) == 5


def test_long_first_hostname_goes_only_in_the_san(ca: LocalCA, keys) -> None:
    long_name = "a" * 60 + ".example.com"
    issued = _issue(ca, keys[KeyType.EC256], hostnames=[long_name, "www.example.com"])
    assert len(issued.certificate.subject) == 0
    assert _ext(issued.certificate, x509.SubjectAlternativeName).critical  # RFC 5280: empty subject
    _verify(ca, issued, long_name)


def test_hostnames_are_checked(ca: LocalCA, keys) -> None:
    with pytest.raises(BadRequest) as caught:
        _issue(ca, keys[KeyType.EC256], hostnames=["bad name.example.com"])
    assert caught.value.code == "InvalidHostname"
    csr = build_csr(keys[KeyType.EC256], ("a.example.com",))  # no CSR can be built for no names
    with pytest.raises(BadRequest) as caught:
        ca.issue(IssueRequest(hostnames=(), csr=csr))
    assert caught.value.code == "InvalidHostnameCount"


def test_unsupported_key_is_refused(ca: LocalCA) -> None:
    with pytest.raises(BadRequest) as caught:
        _issue(ca, ec.generate_private_key(ec.SECP521R1()))
    assert caught.value.code == "UnsupportedKeyType"


# --- validity ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs, expected_days",
    [
        ({}, 365),
        ({"validity_days": 1}, 1),
        ({"validity_days": 90}, 90),
        ({"validity_days": 397}, 397),
    ],
)
def test_validity(ca: LocalCA, keys, kwargs: dict, expected_days: int) -> None:
    leaf = _issue(ca, keys[KeyType.EC256], **kwargs).certificate
    assert leaf.not_valid_before_utc == NOW - BACKDATE
    assert leaf.not_valid_after_utc == NOW + timedelta(days=expected_days)


def test_default_validity_is_configurable(vault: FakeVault, keys) -> None:
    ca = LocalCA(vault, default_validity_days=30, clock=lambda: NOW)
    assert _issue(ca, keys[KeyType.EC256]).certificate.not_valid_after_utc == NOW + timedelta(days=30)
    with pytest.raises(ValueError):
        LocalCA(vault, default_validity_days=398)


@pytest.mark.parametrize("days", [0, -1, 398, 3650])
def test_invalid_validity_days(ca: LocalCA, keys, days: int) -> None:
    with pytest.raises(BadRequest) as caught:
        _issue(ca, keys[KeyType.EC256], validity_days=days)
    assert caught.value.code == "InvalidValidity"


def test_not_after_override_keeps_an_expiry(ca: LocalCA, keys) -> None:
    kept = datetime(2030, 9, 14, 8, 30, 15, tzinfo=timezone.utc)
    leaf = _issue(ca, keys[KeyType.EC256], not_after=kept, validity_days=30).certificate
    assert leaf.not_valid_after_utc == kept


def test_not_after_override_is_capped(ca: LocalCA, keys) -> None:
    leaf = _issue(ca, keys[KeyType.EC256], not_after=NOW + timedelta(days=800)).certificate
    assert leaf.not_valid_after_utc == NOW + timedelta(days=397)


@pytest.mark.parametrize("not_after", [NOW, NOW - timedelta(days=1)])
def test_not_after_in_the_past_is_refused(ca: LocalCA, keys, not_after: datetime) -> None:
    with pytest.raises(BadRequest) as caught:
        _issue(ca, keys[KeyType.EC256], not_after=not_after)
    assert caught.value.code == "InvalidValidity"


FAR = NOW + timedelta(days=5000)


@pytest.mark.parametrize(
    "validity_days, not_after, issuer_not_after, expected_end",
    [
        (None, None, FAR, NOW + timedelta(days=365)),
        (10, None, FAR, NOW + timedelta(days=10)),
        (None, NOW + timedelta(days=3), FAR, NOW + timedelta(days=3)),
        (None, NOW + timedelta(days=500), FAR, NOW + timedelta(days=397)),
        (10, NOW + timedelta(days=3), FAR, NOW + timedelta(days=3)),  # not_after wins
        (None, None, NOW + timedelta(days=100), NOW + timedelta(days=100)),  # never past the intermediate
    ],
)
def test_leaf_validity(validity_days, not_after, issuer_not_after, expected_end) -> None:
    start, end = leaf_validity(
        NOW, default_days=365, validity_days=validity_days, not_after=not_after, issuer_not_after=issuer_not_after
    )
    assert (start, end) == (NOW - BACKDATE, expected_end)


def test_leaf_validity_with_expired_intermediate() -> None:
    with pytest.raises(IssuerError) as caught:
        leaf_validity(NOW, default_days=365, validity_days=None, not_after=None, issuer_not_after=NOW)
    assert caught.value.code == "LocalCAExpired"


# --- the CA itself -----------------------------------------------------------------------------

def test_ca_certificates(ca: LocalCA, keys) -> None:
    intermediate, root = _issue(ca, keys[KeyType.EC256]).chain
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "certsync local root CA"
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    intermediate.verify_directly_issued_by(root)
    for cert, path_length, years in [(root, 1, 10), (intermediate, 0, 5)]:
        basic = _ext(cert, x509.BasicConstraints)
        assert basic.critical and basic.value.ca and basic.value.path_length == path_length
        usage = _ext(cert, x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
        assert not usage.value.digital_signature
        assert _ext(cert, x509.SubjectKeyIdentifier)
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert timedelta(days=365 * years) < lifetime < timedelta(days=365 * years + 5)
        assert isinstance(cert.public_key(), (ec.EllipticCurvePublicKey, rsa.RSAPublicKey))
    root_ski = _ext(root, x509.SubjectKeyIdentifier).value.digest
    assert _ext(intermediate, x509.AuthorityKeyIdentifier).value.key_identifier == root_ski
    assert _ext(root, x509.AuthorityKeyIdentifier).value.key_identifier == root_ski


def test_ca_is_created_lazily_once_and_shared(vault: FakeVault, keys) -> None:
    first = LocalCA(vault, clock=lambda: NOW)
    assert vault.reads == 0 and vault.writes == 0  # nothing happens at construction

    issued = _issue(first, keys[KeyType.EC256])
    _issue(first, keys[KeyType.EC256])
    assert vault.writes == 1
    reads = vault.reads
    first.root_certificate_pem()
    assert vault.reads == reads  # cached in memory

    second = LocalCA(vault, clock=lambda: NOW)  # another function instance
    other = _issue(second, keys[KeyType.EC256])
    assert vault.writes == 1
    assert second.root_certificate_pem() == first.root_certificate_pem()
    assert thumbprint(other.chain[0]) == thumbprint(issued.chain[0])
    _verify(first, other, "www.example.com")


def test_secret_is_stored_as_json_of_pems(vault: FakeVault, ca: LocalCA, keys) -> None:
    ca.issue(IssueRequest.for_key(hostnames=("a.example.com",), private_key=keys[KeyType.EC256]))  # creates the CA
    (stored,) = vault.versions["certsync-local-ca"]
    assert stored.content_type == SECRET_CONTENT_TYPE
    document = json.loads(stored.value)
    assert document["root_certificate"] == ca.root_certificate_pem()
    assert "PRIVATE KEY" in document["intermediate_key"]


def test_custom_secret_name(vault: FakeVault, keys) -> None:
    other = LocalCA(vault, secret_name="other-ca", clock=lambda: NOW)
    other.issue(IssueRequest.for_key(hostnames=("a.example.com",), private_key=keys[KeyType.EC256]))
    assert list(vault.versions) == ["other-ca"]


def test_creation_race_adopts_the_latest_version(vault: FakeVault, keys) -> None:
    """Another instance writes between our write and our read-back: we use its CA, not ours."""
    theirs = create_authority(NOW)
    vault.after_write = lambda: vault.set_secret(
        "certsync-local-ca", authority_to_json(theirs), content_type=SECRET_CONTENT_TYPE
    )
    ca = LocalCA(vault, clock=lambda: NOW)
    issued = _issue(ca, keys[KeyType.EC256])
    assert len(vault.versions["certsync-local-ca"]) == 2
    assert _root(ca) == theirs.root
    assert issued.chain == (theirs.intermediate, theirs.root)
    assert LocalCA(vault, clock=lambda: NOW).root_certificate_pem() == ca.root_certificate_pem()


@pytest.mark.parametrize(
    "value",
    ["", "not json", "[]", '{"format": 1}', '{"format": 99}', "SWAPPED"],
)
def test_unusable_secret_is_reported_without_its_content(vault: FakeVault, value: str) -> None:
    if value == "SWAPPED":
        one, two = create_authority(NOW), create_authority(NOW)
        document = json.loads(authority_to_json(one))
        document["intermediate_certificate"] = json.loads(authority_to_json(two))["intermediate_certificate"]
        value = json.dumps(document)
    vault.set_secret("certsync-local-ca", value)
    with pytest.raises(IssuerError) as caught:
        LocalCA(vault, clock=lambda: NOW).root_certificate_pem()
    assert caught.value.code == "LocalCAInvalid"
    assert "PRIVATE" not in caught.value.message and "BEGIN" not in caught.value.message


def test_failed_load_is_not_cached(vault: FakeVault) -> None:
    vault.set_secret("certsync-local-ca", "not json")
    ca = LocalCA(vault, clock=lambda: NOW)
    with pytest.raises(IssuerError):
        ca.root_certificate_pem()
    vault.set_secret("certsync-local-ca", authority_to_json(create_authority(NOW)))
    assert "BEGIN CERTIFICATE" in ca.root_certificate_pem()


def test_repr_hides_keys() -> None:
    text = repr(create_authority(NOW))
    assert "certsync local root CA" in text and "PRIVATE" not in text and "Key" not in text


# --- the result as App Service will see it ---------------------------------------------------

@pytest.mark.parametrize("key_type", [KeyType.RSA2048, KeyType.EC256])
def test_issued_certificate_round_trips_through_pfx(ca: LocalCA, keys, key_type: KeyType) -> None:
    key = keys[key_type]
    issued = _issue(ca, key)
    bundle = CertificateBundle(private_key=key, certificate=issued.certificate, chain=issued.chain)
    parsed = parse_pfx_base64(to_pfx_base64(bundle, friendly_name="www.example.com"))
    assert parsed.thumbprint == bundle.thumbprint
    assert parsed.chain == issued.chain
    assert key_matches(parsed.private_key, parsed.certificate)
    check_usable(parsed, ["www.example.com", "api.example.com"], NOW)


def test_root_pem_never_creates_the_ca(vault: FakeVault, keys) -> None:
    """GET /api/ca/root.pem is anonymous: it must not make a key and write it to Key Vault."""
    from shared.errors import NotFound

    reader = LocalCA(vault)
    with pytest.raises(NotFound) as missing:
        reader.root_certificate_pem()
    assert missing.value.code == "LocalCANotCreated" and vault.writes == 0
    issued = LocalCA(vault).issue(IssueRequest.for_key(hostnames=("a.example.com",), private_key=keys[KeyType.EC256]))
    assert x509.load_pem_x509_certificate(reader.root_certificate_pem().encode()) == issued.chain[-1]
