"""The request-time Key Vault size check: its bound is never below a real PFX, and it refuses
what cannot fit (issue #11 defect 3: 60 hostnames of 253 characters with RSA4096)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared import pki
from shared.errors import BadRequest, NotFound
from shared.issuers.base import IssueRequest
from shared.issuers.local_ca import LocalCA
from shared.pfx_size import KEY_VAULT_SECRET_MAX_CHARS, check_fits_in_key_vault, pfx_base64_upper_bound
from shared.pki import KeyType
from shared.vault import SecretVersion

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def long_names(count: int, length: int) -> tuple[str, ...]:
    """`count` distinct hostnames of exactly `length` characters (labels of up to 63)."""
    names = []
    for i in range(count):
        prefix = f"h{i:03d}"
        labels, remaining = [prefix], length - len(prefix) - len(".example.com")
        while remaining > 0:
            size = min(62, remaining - 1) if remaining > 1 else 0
            if size <= 0:
                labels[-1] += "a" * remaining
                break
            labels.append("a" * size)
            remaining -= size + 1
        names.append(".".join(labels) + ".example.com")
    assert all(len(n) == length for n in names)
    return tuple(names)


@pytest.fixture(scope="module")
def rsa_chain() -> tuple[pki.PrivateKey, tuple[x509.Certificate, ...]]:
    """A worst case for an ACME CA: two RSA-4096 intermediates with long names."""
    key = pki.generate_private_key(KeyType.RSA4096)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Intermediate CA " + "X" * 30),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Certificate Authority Inc")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW).not_valid_after(NOW + timedelta(days=900))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    return key, (cert, cert)


def rsa_signed_leaf(signer, issuer_cert, key, hostnames) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(pki.subject_for(hostnames)).issuer_name(issuer_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW).not_valid_after(NOW + timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(signer, hashes.SHA256()))


@pytest.fixture(scope="module")
def keys() -> dict[KeyType, pki.PrivateKey]:
    return {key_type: pki.generate_private_key(key_type) for key_type in KeyType}


NAME_SETS = [long_names(1, 20), long_names(1, 253), long_names(10, 253), long_names(40, 253), long_names(100, 60)]


@pytest.mark.parametrize("key_type", list(KeyType))
@pytest.mark.parametrize("hostnames", NAME_SETS, ids=lambda n: f"{len(n)}x{len(n[0])}")
def test_bound_is_never_below_a_real_pfx(keys, rsa_chain, key_type, hostnames):
    key = keys[key_type]
    signer, chain = rsa_chain
    leaf = rsa_signed_leaf(signer, chain[0], key, hostnames)
    bundle = pki.CertificateBundle(private_key=key, certificate=leaf, chain=chain)
    actual = len(pki.to_pfx_base64(bundle, friendly_name="c" * 63))
    chain_der = sum(len(c.public_bytes(Encoding.DER)) for c in chain)
    bound = pfx_base64_upper_bound(key_type, hostnames, chain_der)
    assert actual <= bound <= actual + 6_000  # safe, and not so loose that it refuses what fits


class OneSecretVault:
    """Just what LocalCA uses: its CA secret, written once and read back."""

    def __init__(self) -> None:
        self.value: str | None = None

    def get_secret(self, name: str, version: str | None = None) -> SecretVersion:
        if self.value is None:
            raise NotFound("absent", code="SecretNotFound")
        return SecretVersion(name, "1" * 32, "", None, True, NOW, value=self.value)

    def set_secret(self, name: str, value: str, **_: object) -> SecretVersion:
        self.value = value
        return self.get_secret(name)


@pytest.mark.parametrize("key_type", [KeyType.RSA4096, KeyType.EC384])
def test_bound_covers_the_local_ca_with_its_declared_chain(keys, key_type):
    ca = LocalCA(OneSecretVault(), clock=lambda: NOW)  # type: ignore[arg-type]
    hostnames = long_names(40, 253)
    issued = ca.issue(IssueRequest.for_key(hostnames=hostnames, private_key=keys[key_type]))
    bundle = pki.CertificateBundle(private_key=keys[key_type], certificate=issued.certificate, chain=issued.chain)
    chain_der = sum(len(c.public_bytes(Encoding.DER)) for c in issued.chain)
    assert chain_der <= LocalCA.capabilities.max_chain_der_bytes
    actual = len(pki.to_pfx_base64(bundle, friendly_name="c" * 63))
    assert actual <= pfx_base64_upper_bound(key_type, hostnames, LocalCA.capabilities.max_chain_der_bytes)


@pytest.mark.parametrize(
    ("key_type", "count", "length", "fits"),
    [
        (KeyType.RSA4096, 60, 253, False),  # the defect's input: a 25,600+ character PFX
        (KeyType.EC256, 40, 253, True),  # long names, a small key: fits
        (KeyType.RSA4096, 100, 30, True),  # the most hostnames, ordinary lengths
        (KeyType.RSA2048, 1, 20, True),
        (KeyType.RSA2048, 100, 253, False),
    ],
)
def test_refuses_what_cannot_fit(key_type, count, length, fits):
    chain = LocalCA.capabilities.max_chain_der_bytes
    hostnames = long_names(count, length)
    if fits:
        check_fits_in_key_vault(key_type, hostnames, chain)
        assert pfx_base64_upper_bound(key_type, hostnames, chain) <= KEY_VAULT_SECRET_MAX_CHARS
    else:
        with pytest.raises(BadRequest) as caught:
            check_fits_in_key_vault(key_type, hostnames, chain)
        assert caught.value.code == "CertificateTooLarge" and "25600" in caught.value.message
