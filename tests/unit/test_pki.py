"""Keys, fingerprints, PFX round trips and the usability guard in shared.pki."""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from shared.errors import BadRequest
from shared.pki import (
    DEFAULT_KEY_TYPE,
    CertificateBundle,
    KeyType,
    build_csr,
    certificates_from_pem,
    certificates_to_pem,
    check_usable,
    dns_names,
    generate_private_key,
    key_matches,
    key_type_of,
    order_chain,
    parse_pfx_base64,
    private_key_from_pem,
    private_key_to_pem,
    sha256_fingerprint,
    thumbprint,
    to_pfx_base64,
)

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: x509.Certificate | None = None, issuer_key=None, *, sans=(), ca=False,
          not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=90)) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture(scope="module")
def keys() -> dict[KeyType, object]:
    return {key_type: generate_private_key(key_type) for key_type in KeyType}


@pytest.fixture(scope="module")
def ca():
    """root -> intermediate, EC for speed."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("test root", root_key, ca=True, not_after=NOW + timedelta(days=3650))
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _cert("test intermediate", inter_key, root, root_key, ca=True, not_after=NOW + timedelta(days=1000))
    return root, inter, inter_key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _bundle(key, ca, sans=("www.example.com", "*.example.com"), **kwargs) -> CertificateBundle:
    root, inter, inter_key = ca
    leaf = _cert(sans[0] if sans else "leaf", key, inter, inter_key, sans=sans, **kwargs)
    return CertificateBundle(private_key=key, certificate=leaf, chain=(inter, root))


# --- keys -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "key_type, kind, size",
    [
        (KeyType.RSA2048, rsa.RSAPrivateKey, 2048),
        (KeyType.RSA3072, rsa.RSAPrivateKey, 3072),
        (KeyType.RSA4096, rsa.RSAPrivateKey, 4096),
        (KeyType.EC256, ec.EllipticCurvePrivateKey, 256),
        (KeyType.EC384, ec.EllipticCurvePrivateKey, 384),
    ],
)
def test_generate_private_key(keys, key_type: KeyType, kind: type, size: int) -> None:
    key = keys[key_type]
    assert isinstance(key, kind)
    assert key.key_size == size
    assert key_type_of(key) is key_type


def test_default_key_type_is_rsa2048() -> None:
    assert DEFAULT_KEY_TYPE is KeyType.RSA2048
    assert KeyType("EC256") is KeyType.EC256  # API values are the member names


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
        lambda: ec.generate_private_key(ec.SECP521R1()),
        lambda: ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["rsa1024", "p521", "ed25519"],
)
def test_key_type_of_refuses_other_keys(make_key) -> None:
    with pytest.raises(BadRequest) as caught:
        key_type_of(make_key())
    assert caught.value.code == "UnsupportedKeyType"


def test_key_matches(keys, ca) -> None:
    bundle = _bundle(keys[KeyType.EC256], ca)
    assert key_matches(keys[KeyType.EC256], bundle.certificate)
    assert not key_matches(keys[KeyType.EC384], bundle.certificate)
    assert not key_matches(keys[KeyType.RSA2048], bundle.certificate)


def test_private_key_pem_round_trip(keys) -> None:
    key = keys[KeyType.EC384]
    assert key_matches(private_key_from_pem(private_key_to_pem(key)), _cert("x", key))
    with pytest.raises(BadRequest):
        private_key_from_pem("not a key")


# --- fingerprints and names -----------------------------------------------------------------

def test_thumbprint_formats(keys, ca) -> None:
    cert = _bundle(keys[KeyType.EC256], ca).certificate
    assert thumbprint(cert) == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert re.fullmatch(r"[0-9A-F]{40}", thumbprint(cert))
    assert sha256_fingerprint(cert) == cert.fingerprint(hashes.SHA256()).hex().upper()
    assert re.fullmatch(r"[0-9A-F]{64}", sha256_fingerprint(cert))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not on PATH")
def test_thumbprint_matches_openssl(keys, ca, tmp_path: Path) -> None:
    cert = _bundle(keys[KeyType.RSA2048], ca).certificate
    pem = tmp_path / "cert.pem"
    pem.write_text(certificates_to_pem([cert]))
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", str(pem)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    assert thumbprint(cert) == out.strip().split("=", 1)[1].replace(":", "").upper()


def test_dns_names_are_lowercase_and_ignore_cn(keys, ca) -> None:
    bundle = _bundle(keys[KeyType.EC256], ca, sans=("WWW.Example.com", "*.example.com"))
    assert dns_names(bundle.certificate) == ("www.example.com", "*.example.com")
    root, _, _ = ca
    assert dns_names(root) == ()


def test_pem_round_trip(ca) -> None:
    root, inter, _ = ca
    assert certificates_from_pem(certificates_to_pem([inter, root])) == (inter, root)


# --- bundle -----------------------------------------------------------------------------------

def test_bundle_properties_and_repr(keys, ca) -> None:
    key = keys[KeyType.RSA2048]
    bundle = _bundle(key, ca)
    assert bundle.thumbprint == thumbprint(bundle.certificate)
    assert bundle.not_before == NOW - timedelta(days=1)
    assert bundle.not_after == NOW + timedelta(days=90)
    assert bundle.not_after.tzinfo is not None
    assert int(bundle.serial, 16) == bundle.certificate.serial_number
    assert len(bundle.serial) % 2 == 0 and bundle.serial == bundle.serial.upper()
    text = repr(bundle) + str(bundle)
    assert bundle.thumbprint in text
    assert "PRIVATE" not in text and str(key.private_numbers().p) not in text
    assert "RSAPrivateKey" not in text


# --- PFX ------------------------------------------------------------------------------------

@pytest.mark.parametrize("key_type", list(KeyType))
def test_pfx_round_trip(keys, ca, key_type: KeyType) -> None:
    bundle = _bundle(keys[key_type], ca)
    parsed = parse_pfx_base64(to_pfx_base64(bundle, friendly_name="www.example.com"))
    assert parsed.thumbprint == bundle.thumbprint
    assert key_matches(parsed.private_key, parsed.certificate)
    assert key_type_of(parsed.private_key) is key_type
    assert parsed.chain == bundle.chain


def test_pfx_has_no_password_and_openssl_reads_it(keys, ca, tmp_path: Path) -> None:
    bundle = _bundle(keys[KeyType.RSA2048], ca)
    data = base64.b64decode(to_pfx_base64(bundle))
    loaded = pkcs12.load_pkcs12(data, None)
    assert loaded.key is not None and loaded.cert.certificate == bundle.certificate
    if shutil.which("openssl"):
        path = tmp_path / "cert.pfx"
        path.write_bytes(data)
        out = subprocess.run(
            ["openssl", "pkcs12", "-in", str(path), "-nodes", "-passin", "pass:"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout
        assert "PRIVATE KEY" in out and out.count("BEGIN CERTIFICATE") == 3


def test_pfx_without_chain(keys, ca) -> None:
    bundle = CertificateBundle(keys[KeyType.EC256], _bundle(keys[KeyType.EC256], ca).certificate)
    parsed = parse_pfx_base64(to_pfx_base64(bundle))
    assert parsed.thumbprint == bundle.thumbprint and parsed.chain == ()


def test_pfx_leaf_found_whatever_the_order(keys, ca) -> None:
    root, inter, _ = ca
    bundle = _bundle(keys[KeyType.EC256], ca)
    # Key stored alone, certificates in the "wrong" order: root first, leaf in the middle.
    data = pkcs12.serialize_key_and_certificates(
        None, bundle.private_key, None, [root, bundle.certificate, inter], serialization.NoEncryption()
    )
    parsed = parse_pfx_base64(base64.b64encode(data).decode())
    assert parsed.thumbprint == bundle.thumbprint
    assert parsed.chain == (inter, root)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not on PATH")
def test_pfx_with_empty_password_is_accepted(keys, ca, tmp_path: Path) -> None:
    """openssl `-passout pass:` writes an empty password; to App Service that is still no password."""
    bundle = _bundle(keys[KeyType.RSA2048], ca)
    (tmp_path / "key.pem").write_text(private_key_to_pem(bundle.private_key))
    (tmp_path / "certs.pem").write_text(certificates_to_pem([bundle.certificate, *bundle.chain]))
    subprocess.run(
        ["openssl", "pkcs12", "-export", "-inkey", str(tmp_path / "key.pem"), "-in", str(tmp_path / "certs.pem"),
         "-passout", "pass:", "-out", str(tmp_path / "out.pfx")],
        capture_output=True, check=True, timeout=30,
    )
    parsed = parse_pfx_base64(_b64((tmp_path / "out.pfx").read_bytes()))
    assert parsed.thumbprint == bundle.thumbprint
    assert parsed.chain == bundle.chain


def test_pfx_base64_may_be_wrapped(keys, ca) -> None:
    bundle = _bundle(keys[KeyType.EC256], ca)
    text = to_pfx_base64(bundle)
    wrapped = "\n".join(text[i:i + 64] for i in range(0, len(text), 64)) + "\n"
    assert parse_pfx_base64(wrapped).thumbprint == bundle.thumbprint


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "not base64 !!!",
        "QUJD=X",
        _b64(b"garbage that is not PKCS#12"),
        _b64(b"\x30\x82\x01\x00" + b"\x00" * 256),
    ],
    ids=["empty", "blank", "not-base64", "bad-padding", "garbage", "truncated-der"],
)
def test_parse_pfx_rejects_garbage(value: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_pfx_base64(value)
    assert caught.value.code == "InvalidPfx"


def test_parse_pfx_rejects_password_protected(keys, ca) -> None:
    bundle = _bundle(keys[KeyType.EC256], ca)
    data = pkcs12.serialize_key_and_certificates(
        None, bundle.private_key, bundle.certificate, list(bundle.chain), serialization.BestAvailableEncryption(b"pw")
    )
    with pytest.raises(BadRequest) as caught:
        parse_pfx_base64(_b64(data))
    assert caught.value.code == "InvalidPfx"
    assert "password" in caught.value.message


def test_parse_pfx_rejects_missing_key(ca) -> None:
    root, inter, _ = ca
    data = pkcs12.serialize_key_and_certificates(None, None, None, [inter, root], serialization.NoEncryption())
    with pytest.raises(BadRequest) as caught:
        parse_pfx_base64(_b64(data))
    assert caught.value.code == "InvalidPfx"
    assert "no private key" in caught.value.message


def test_parse_pfx_rejects_missing_certificate(keys) -> None:
    data = pkcs12.serialize_key_and_certificates(None, keys[KeyType.EC256], None, None, serialization.NoEncryption())
    with pytest.raises(BadRequest) as caught:
        parse_pfx_base64(_b64(data))
    assert caught.value.code == "InvalidPfx"
    assert "no certificate" in caught.value.message


def test_parse_pfx_rejects_key_for_other_certificates(keys, ca) -> None:
    root, inter, _ = ca
    data = pkcs12.serialize_key_and_certificates(None, keys[KeyType.EC256], None, [inter, root],
                                                 serialization.NoEncryption())
    with pytest.raises(BadRequest) as caught:
        parse_pfx_base64(_b64(data))
    assert caught.value.code == "KeyMismatch"


def test_order_chain(keys, ca) -> None:
    root, inter, _ = ca
    leaf = _bundle(keys[KeyType.EC256], ca).certificate
    stranger = _cert("unrelated", ec.generate_private_key(ec.SECP256R1()), ca=True)
    assert order_chain(leaf, [root, stranger, inter]) == (inter, root, stranger)
    assert order_chain(leaf, [root]) == (root,)  # a gap: keep what we have
    assert order_chain(leaf, []) == ()


# --- CSR --------------------------------------------------------------------------------------

def test_build_csr(keys) -> None:
    csr = build_csr(keys[KeyType.EC256], ["www.example.com", "example.com"])
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "www.example.com"
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["www.example.com", "example.com"]


def test_build_csr_long_first_name_has_no_cn(keys) -> None:
    long_name = "a" * 60 + ".example.com"
    csr = build_csr(keys[KeyType.RSA2048], [long_name])
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [long_name]


# --- check_usable -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "now, hostnames, code",
    [
        (NOW, ["www.example.com"], None),
        (NOW, ["www.example.com", "api.example.com", "WWW.EXAMPLE.COM"], None),
        (NOW, [], None),
        (NOW + timedelta(days=90) - timedelta(seconds=1), ["www.example.com"], None),
        (NOW + timedelta(days=90), ["www.example.com"], "CertificateExpired"),
        (NOW + timedelta(days=400), ["www.example.com"], "CertificateExpired"),
        (NOW - timedelta(days=1, seconds=1), ["www.example.com"], "CertificateNotYetValid"),
        (NOW, ["example.com"], "HostnameNotCovered"),
        (NOW, ["a.b.example.com"], "HostnameNotCovered"),
        (NOW, ["www.example.com", "www.example.org"], "HostnameNotCovered"),
    ],
)
def test_check_usable(keys, ca, now: datetime, hostnames: list[str], code: str | None) -> None:
    bundle = _bundle(keys[KeyType.EC256], ca)
    if code is None:
        check_usable(bundle, hostnames, now)
        return
    with pytest.raises(BadRequest) as caught:
        check_usable(bundle, hostnames, now)
    assert caught.value.code == code


def test_check_usable_names_the_uncovered_hostname(keys, ca) -> None:
    with pytest.raises(BadRequest) as caught:
        check_usable(_bundle(keys[KeyType.EC256], ca), ["www.example.com", "shop.example.org"], NOW)
    assert "shop.example.org" in caught.value.message


def test_check_usable_key_mismatch(keys, ca) -> None:
    good = _bundle(keys[KeyType.EC256], ca)
    swapped = CertificateBundle(keys[KeyType.EC384], good.certificate, good.chain)
    with pytest.raises(BadRequest) as caught:
        check_usable(swapped, ["www.example.com"], NOW)
    assert caught.value.code == "KeyMismatch"


def test_check_usable_needs_aware_time(keys, ca) -> None:
    with pytest.raises(ValueError):
        check_usable(_bundle(keys[KeyType.EC256], ca), [], NOW.replace(tzinfo=None))
