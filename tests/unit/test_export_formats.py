"""Export formats (PFX modern/legacy, PEM) and the export use case, without the stack.

Certificates come from the local CA over an in-memory vault; files are opened both with
cryptography and with the openssl CLI, which is what people will use on them.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from shared.errors import BadRequest, Conflict, NotFound
from shared.export import (
    KDF_ROUNDS,
    ExportRequest,
    check_password,
    export_certificate,
    export_pem,
    export_pfx,
    portal_url,
    secret_location,
)
from shared.issuers.base import IssueRequest
from shared.issuers.local_ca import LocalCA
from shared.model import Certificate, CertificateStatus, OperationKind, OperationStatus
from shared.pki import CertificateBundle, KeyType, generate_private_key, key_matches, thumbprint, to_pfx_base64
from shared.vault import PFX_CONTENT_TYPE
from tests.fakes.context import fake_context
from tests.fakes.vault import FakeVault

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)
PASSWORD = "correct-horse-battery-staple"
VAULT_URL = "https://contoso-kv.vault.azure.net"


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA(FakeVault(VAULT_URL), clock=lambda: NOW)


def issue(ca: LocalCA, key_type: KeyType = KeyType.RSA2048, host: str = "shop.example.com") -> CertificateBundle:
    key = generate_private_key(key_type)
    issued = ca.issue(IssueRequest.for_key(hostnames=(host,), private_key=key))
    return CertificateBundle(private_key=key, certificate=issued.certificate, chain=issued.chain)


@pytest.fixture(scope="module", params=[KeyType.RSA2048, KeyType.EC256], ids=lambda k: k.value)
def bundle(request, ca) -> CertificateBundle:
    return issue(ca, request.param)


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="session")
def openssl3() -> None:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command line is required for these tests")
    version = openssl("version").stdout
    assert re.match(r"OpenSSL 3\.", version), version


# --- PFX ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("legacy", [False, True], ids=["modern", "legacy"])
def test_pfx_opens_with_the_password_only(bundle, legacy):
    data = export_pfx(bundle, PASSWORD, legacy, "shop")
    loaded = pkcs12.load_pkcs12(data, PASSWORD.encode())
    assert thumbprint(loaded.cert.certificate) == bundle.thumbprint
    assert key_matches(loaded.key, loaded.cert.certificate)
    assert loaded.cert.friendly_name == b"shop"
    assert [thumbprint(c.certificate) for c in loaded.additional_certs] == [thumbprint(c) for c in bundle.chain]
    assert len(loaded.additional_certs) == 2  # intermediate and root
    for wrong in (b"wrong-password-123", None, b""):
        with pytest.raises(ValueError):
            pkcs12.load_pkcs12(data, wrong)


def test_pfx_modern_uses_aes256_pbkdf2_and_sha256_mac(bundle, openssl3, tmp_path: Path):
    path = tmp_path / "modern.pfx"
    path.write_bytes(export_pfx(bundle, PASSWORD, False, "shop"))
    assert openssl("pkcs12", "-in", str(path), "-noout", "-passin", f"pass:{PASSWORD}").returncode == 0
    info = openssl("pkcs12", "-info", "-in", str(path), "-noout", "-passin", f"pass:{PASSWORD}")
    assert info.returncode == 0, info.stderr
    text = info.stdout + info.stderr
    assert "MAC: sha256" in text
    assert text.count(f"PBES2, PBKDF2, AES-256-CBC, Iteration {KDF_ROUNDS}, PRF hmacWithSHA256") == 2  # certs and key
    assert "3DES" not in text and "TripleDES" not in text and "RC2" not in text
    wrong = openssl("pkcs12", "-in", str(path), "-noout", "-passin", "pass:not-the-password")
    assert wrong.returncode != 0


def test_pfx_legacy_uses_3des_and_sha1_and_opens_with_openssl_legacy(bundle, openssl3, tmp_path: Path):
    path = tmp_path / "legacy.pfx"
    path.write_bytes(export_pfx(bundle, PASSWORD, True, "shop"))
    info = openssl("pkcs12", "-legacy", "-info", "-in", str(path), "-noout", "-passin", f"pass:{PASSWORD}")
    assert info.returncode == 0, info.stderr
    text = info.stdout + info.stderr
    assert "MAC: sha1" in text
    assert text.count("pbeWithSHA1And3-KeyTripleDES-CBC") == 2
    assert "AES" not in text
    wrong = openssl("pkcs12", "-legacy", "-in", str(path), "-noout", "-passin", "pass:not-the-password")
    assert wrong.returncode != 0


def test_pfx_openssl_extracts_the_same_leaf(bundle, openssl3, tmp_path: Path):
    path = tmp_path / "modern.pfx"
    path.write_bytes(export_pfx(bundle, PASSWORD, False, "shop"))
    out = openssl("pkcs12", "-in", str(path), "-clcerts", "-nokeys", "-passin", f"pass:{PASSWORD}")
    assert out.returncode == 0, out.stderr
    assert thumbprint(x509.load_pem_x509_certificate(out.stdout.encode())) == bundle.thumbprint
    assert "friendlyName: shop" in out.stdout


def test_pfx_with_a_non_ascii_password_opens_in_openssl(ca, openssl3, tmp_path: Path):
    password = "pässwörd-mit-€-zeichen"
    path = tmp_path / "utf8.pfx"
    path.write_bytes(export_pfx(issue(ca, KeyType.EC256), password, False, "shop"))
    assert openssl("pkcs12", "-in", str(path), "-noout", "-passin", f"pass:{password}").returncode == 0


@pytest.mark.parametrize("password", [None, "", "short", "x" * 11, "x" * 1025, 123456789012345, "twelve-chars\x00x"])
def test_pfx_is_never_written_without_a_proper_password(ca, password):
    with pytest.raises(BadRequest):
        export_pfx(issue(ca, KeyType.EC256), password, False, "shop")


# --- PEM ---------------------------------------------------------------------------------------

def test_pem_holds_chain_leaf_first_and_an_encrypted_key(bundle):
    data = export_pem(bundle, PASSWORD, include_key=True)
    certs = x509.load_pem_x509_certificates(data)
    assert [thumbprint(c) for c in certs] == [bundle.thumbprint, *(thumbprint(c) for c in bundle.chain)]
    assert data.count(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") == 1
    assert b"-----BEGIN PRIVATE KEY-----" not in data and b"RSA PRIVATE KEY" not in data
    key = serialization.load_pem_private_key(data, PASSWORD.encode())
    assert key_matches(key, certs[0])
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(data, b"wrong-password-123")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(data, None)


def test_pem_key_opens_in_openssl_with_the_password_only(bundle, openssl3, tmp_path: Path):
    path = tmp_path / "export.pem"
    path.write_bytes(export_pem(bundle, PASSWORD, include_key=True))
    assert openssl("pkey", "-in", str(path), "-noout", "-passin", f"pass:{PASSWORD}").returncode == 0
    assert openssl("pkey", "-in", str(path), "-noout", "-passin", "pass:not-the-password").returncode != 0


@pytest.mark.parametrize("password", [None, PASSWORD, "short"])
def test_pem_chain_only_has_no_key_and_ignores_the_password(bundle, password):
    data = export_pem(bundle, password, include_key=False)
    assert b"PRIVATE KEY" not in data
    assert len(x509.load_pem_x509_certificates(data)) == 3


def test_pem_with_key_needs_a_password(bundle):
    with pytest.raises(BadRequest) as caught:
        export_pem(bundle, None, include_key=True)
    assert caught.value.code == "PasswordRequired"


@pytest.mark.parametrize(
    "password,code",
    [
        (None, "PasswordRequired"),
        ("", "PasswordRequired"),
        ("elevenchars", "PasswordTooShort"),
        ("y" * 1024, "PasswordTooLong"),
        ("\u00e9" * 512, "PasswordTooLong"),
        ("\U0001F600" * 256, "PasswordTooLong"),
        (["a-list-of-things"], "InvalidPassword"),
        ("twelve-chars\x00", "InvalidPassword"),
    ],
)
def test_password_rules_and_messages_without_the_password(password, code):
    with pytest.raises(BadRequest) as caught:
        check_password(password)
    assert caught.value.code == code
    if isinstance(password, str) and password:
        assert password not in caught.value.message


@pytest.mark.parametrize("password", ["twelve-chars", "z" * 1023, "\u00e9" * 511 + "z", "pässwörd-€-zeichen"])
def test_password_accepted(password):
    assert check_password(password) == password


# --- portal link -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "version_id,expected",
    [
        (
            "https://contoso-kv.vault.azure.net/secrets/cert-shop/0123456789abcdef0123456789abcdef",
            "https://portal.azure.com/#@/asset/Microsoft_Azure_KeyVault/Secret/"
            "https://contoso-kv.vault.azure.net/secrets/cert-shop/0123456789abcdef0123456789abcdef",
        ),
        ("https://127.0.0.1:8443/secrets/cert-shop/0123456789abcdef0123456789abcdef", None),
        ("https://contoso-kv.vault.azure.cn/secrets/cert-shop/0123456789abcdef0123456789abcdef", None),
        ("https://vault.azure.net.evil.example/secrets/cert-shop/0123456789abcdef0123456789abcdef", None),
    ],
)
def test_portal_url_only_for_public_cloud_vaults(version_id, expected):
    assert portal_url(version_id) == expected


# --- the use case, over in-memory stand-ins ----------------------------------------------------

@pytest.fixture
def world(ca):
    """A context holding one issued certificate with two versions, one never issued."""
    fakes = fake_context(KEY_VAULT_URL=VAULT_URL)
    old, new = issue(ca, KeyType.EC256), issue(ca, KeyType.EC256)
    versions = [
        fakes.vault.set_secret("cert-shop", to_pfx_base64(b, "shop"), content_type=PFX_CONTENT_TYPE)
        for b in (old, new)
    ]
    fakes.certificates.add(Certificate(
        name="shop", hostnames=("shop.example.com",), key_type="EC256", issuer="local",
        status=CertificateStatus.ISSUED, secret_name="cert-shop", secret_version=versions[1].version,
        thumbprint=new.thumbprint,
    ))
    fakes.certificates.add(Certificate(
        name="fresh", hostnames=("fresh.example.com",), key_type="EC256", issuer="local", secret_name="cert-fresh"
    ))
    return SimpleNamespace(ctx=fakes.ctx, old=old, new=new, versions=versions)


def test_export_defaults_to_the_recorded_version_and_records_the_export(world):
    # A newer version written outside certsync is not what certsync issued: not the default.
    world.ctx.vault.set_secret("cert-shop", to_pfx_base64(world.old, "shop"), content_type=PFX_CONTENT_TYPE)
    exported = export_certificate(world.ctx, "shop", ExportRequest("pfx", password=PASSWORD), "ada")
    assert exported.content_type == "application/x-pkcs12"
    assert exported.filename == f"shop-{world.new.thumbprint[:8]}.pfx"
    assert thumbprint(pkcs12.load_pkcs12(exported.content, PASSWORD.encode()).cert.certificate) == world.new.thumbprint
    assert PASSWORD not in repr(exported) and "content=" not in repr(exported)
    [op] = world.ctx.operations.list()
    assert (op.kind, op.target, op.status) == (OperationKind.EXPORT, "shop", OperationStatus.SUCCEEDED)
    assert op.requested_by == "ada"
    assert op.parameters == {
        "format": "pfx", "encryption": "modern", "includeKey": True,
        "version": world.versions[1].version, "thumbprint": world.new.thumbprint,
    }
    assert PASSWORD not in repr(op)


def test_export_of_an_older_version(world):
    version = world.versions[0].version
    exported = export_certificate(world.ctx, "shop", ExportRequest("pem", PASSWORD, version=version.upper()))
    assert exported.content_type == "application/x-pem-file"
    assert exported.filename == f"shop-{world.old.thumbprint[:8]}.pem"
    assert thumbprint(x509.load_pem_x509_certificates(exported.content)[0]) == world.old.thumbprint
    assert world.ctx.operations.list()[0].parameters["version"] == version


def test_export_chain_only_records_no_encryption(world):
    exported = export_certificate(world.ctx, "shop", ExportRequest("pem", include_key=False))
    assert b"PRIVATE KEY" not in exported.content
    params = world.ctx.operations.list()[0].parameters
    assert params["includeKey"] is False and params["encryption"] is None


@pytest.mark.parametrize(
    "name,request_,error,code",
    [
        ("shop", ExportRequest("der", PASSWORD), BadRequest, "InvalidFormat"),
        ("shop", ExportRequest("pfx", PASSWORD, encryption="rc2"), BadRequest, "InvalidEncryption"),
        ("shop", ExportRequest("pem", PASSWORD, encryption="legacy"), BadRequest, "InvalidEncryption"),
        ("shop", ExportRequest("pfx", PASSWORD, include_key=False), BadRequest, "PfxNeedsKey"),
        ("shop", ExportRequest("pfx"), BadRequest, "PasswordRequired"),
        ("shop", ExportRequest("pem", "short-one"), BadRequest, "PasswordTooShort"),
        ("shop", ExportRequest("pfx", PASSWORD, version="not-a-version"), BadRequest, "InvalidVersion"),
        ("shop", ExportRequest("pfx", PASSWORD, version="0" * 32), NotFound, "VersionNotFound"),
        ("nope", ExportRequest("pfx", PASSWORD), NotFound, "CertificateNotFound"),
        ("Bad Name", ExportRequest("pfx", PASSWORD), BadRequest, "InvalidName"),
        ("fresh", ExportRequest("pfx", PASSWORD), Conflict, "NotIssued"),
    ],
)
def test_export_refusals_record_nothing(world, name, request_, error, code):
    with pytest.raises(error) as caught:
        export_certificate(world.ctx, name, request_)
    assert caught.value.code == code
    assert PASSWORD not in caught.value.message
    assert world.ctx.operations.list() == []


def test_secret_location(world):
    location = secret_location(world.ctx, "shop")
    version = world.versions[1].version
    assert location.secret_id == f"{VAULT_URL}/secrets/cert-shop"
    assert location.version == version
    assert location.version_id == f"{VAULT_URL}/secrets/cert-shop/{version}"
    assert location.portal_url == (
        f"https://portal.azure.com/#@/asset/Microsoft_Azure_KeyVault/Secret/{VAULT_URL}/secrets/cert-shop/{version}"
    )
    fresh = secret_location(world.ctx, "fresh")
    assert (fresh.secret_id, fresh.version, fresh.version_id, fresh.portal_url) == (
        f"{VAULT_URL}/secrets/cert-fresh", None, None, None
    )
    with pytest.raises(NotFound):
        secret_location(world.ctx, "nope")
