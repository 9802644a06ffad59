"""End to end over real HTTP: export a certificate as PFX/PEM, its Key Vault secret location,
the export history, secrets kept out of logs and records, and the Certificates.Export role."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from devtools.processes import env_only_host, free_port
from tests.conftest import Api, app_env

PASSWORD = "e2e-export-password-7f3a"


def create_certificate(api: Api, name: str, hostnames: list[str], **extra) -> dict:
    op = api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": hostnames, **extra}))
    assert op["status"] == "Succeeded", op
    return api.call("GET", f"certificates/{name}").json()


def export(api: Api, name: str, headers: dict[str, str] | None = None, **body):
    return api.call("POST", f"certificates/{name}/export", body, headers=headers or {})


def sha1(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


def principal(*roles: str, name: str = "ada") -> str:
    claims = [{"typ": "roles", "val": role} for role in roles] + [{"typ": "name", "val": name}]
    doc = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": claims}
    return base64.b64encode(json.dumps(doc).encode()).decode()


@pytest.fixture(scope="module")
def issued(api) -> dict:
    """One issued certificate the read-only tests share (renewals use their own)."""
    suffix = os.urandom(3).hex()
    return create_certificate(api, f"exp-{suffix}", [f"exp-{suffix}.example.com"], keyType="EC256")


@pytest.fixture(scope="session")
def openssl3() -> None:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command line is required for these tests")
    assert openssl("version").stdout.startswith("OpenSSL 3."), openssl("version").stdout


def assert_file_headers(response, name: str, thumbprint: str, extension: str, content_type: str) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == content_type
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}-{thumbprint[:8]}.{extension}"'
    assert response.headers["Cache-Control"] == "no-store"


# --- formats -----------------------------------------------------------------------------------

def test_export_pfx_modern(api, issued, openssl3, tmp_path: Path):
    response = export(api, issued["name"], format="pfx", password=PASSWORD)
    assert_file_headers(response, issued["name"], issued["thumbprint"], "pfx", "application/x-pkcs12")
    loaded = pkcs12.load_pkcs12(response.content, PASSWORD.encode())
    assert sha1(loaded.cert.certificate) == issued["thumbprint"]
    assert loaded.key.public_key().public_numbers() == loaded.cert.certificate.public_key().public_numbers()
    assert loaded.cert.friendly_name == issued["name"].encode()
    assert len(loaded.additional_certs) == 2
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(response.content, b"not-the-password")
    path = tmp_path / "modern.pfx"
    path.write_bytes(response.content)
    info = openssl("pkcs12", "-info", "-in", str(path), "-noout", "-passin", f"pass:{PASSWORD}")
    assert info.returncode == 0, info.stderr
    text = info.stdout + info.stderr
    assert "MAC: sha256" in text and text.count("PBES2, PBKDF2, AES-256-CBC") == 2
    assert openssl("pkcs12", "-in", str(path), "-noout", "-passin", "pass:not-the-password").returncode != 0


def test_export_pfx_legacy(api, issued, openssl3, tmp_path: Path):
    response = export(api, issued["name"], format="pfx", password=PASSWORD, encryption="legacy")
    assert_file_headers(response, issued["name"], issued["thumbprint"], "pfx", "application/x-pkcs12")
    assert sha1(pkcs12.load_pkcs12(response.content, PASSWORD.encode()).cert.certificate) == issued["thumbprint"]
    path = tmp_path / "legacy.pfx"
    path.write_bytes(response.content)
    info = openssl("pkcs12", "-legacy", "-info", "-in", str(path), "-noout", "-passin", f"pass:{PASSWORD}")
    assert info.returncode == 0, info.stderr
    text = info.stdout + info.stderr
    assert "MAC: sha1" in text and text.count("pbeWithSHA1And3-KeyTripleDES-CBC") == 2


def test_export_pem_with_encrypted_key(api, issued):
    response = export(api, issued["name"], format="pem", password=PASSWORD)
    assert_file_headers(response, issued["name"], issued["thumbprint"], "pem", "application/x-pem-file")
    certs = x509.load_pem_x509_certificates(response.content)
    assert len(certs) == 3 and sha1(certs[0]) == issued["thumbprint"]
    certs[0].verify_directly_issued_by(certs[1])
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in response.content
    assert b"-----BEGIN PRIVATE KEY-----" not in response.content
    key = serialization.load_pem_private_key(response.content, PASSWORD.encode())
    assert key.public_key().public_numbers() == certs[0].public_key().public_numbers()
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(response.content, b"not-the-password")


@pytest.mark.parametrize("extra", [{}, {"password": PASSWORD}, {"password": "short"}], ids=["none", "ignored", "short"])
def test_export_chain_only_needs_no_password(api, issued, extra):
    response = export(api, issued["name"], format="pem", includeKey=False, **extra)
    assert_file_headers(response, issued["name"], issued["thumbprint"], "pem", "application/x-pem-file")
    assert b"PRIVATE KEY" not in response.content
    assert sha1(x509.load_pem_x509_certificates(response.content)[0]) == issued["thumbprint"]


# --- versions ----------------------------------------------------------------------------------

def test_export_an_older_version_after_renewal(api, unique, openssl3, tmp_path: Path):
    name = f"roll-{unique}"
    before = create_certificate(api, name, [f"{name}.example.com"])
    op = api.wait_operation(api.call("POST", f"certificates/{name}/renew"))
    assert op["status"] == "Succeeded", op
    after = api.call("GET", f"certificates/{name}").json()
    assert after["keyVaultSecretVersion"] != before["keyVaultSecretVersion"]
    assert after["thumbprint"] != before["thumbprint"]

    current = export(api, name, format="pfx", password=PASSWORD)
    assert_file_headers(current, name, after["thumbprint"], "pfx", "application/x-pkcs12")
    assert sha1(pkcs12.load_pkcs12(current.content, PASSWORD.encode()).cert.certificate) == after["thumbprint"]

    old = export(api, name, format="pfx", password=PASSWORD, version=before["keyVaultSecretVersion"])
    assert_file_headers(old, name, before["thumbprint"], "pfx", "application/x-pkcs12")
    assert sha1(pkcs12.load_pkcs12(old.content, PASSWORD.encode()).cert.certificate) == before["thumbprint"]
    path = tmp_path / "old.pfx"
    path.write_bytes(old.content)
    assert openssl("pkcs12", "-in", str(path), "-noout", "-passin", f"pass:{PASSWORD}").returncode == 0

    history = api.call("GET", f"operations?target={name}&kind=export").json()["value"]
    assert {(o["parameters"]["version"], o["parameters"]["thumbprint"]) for o in history} == {
        (after["keyVaultSecretVersion"], after["thumbprint"]),
        (before["keyVaultSecretVersion"], before["thumbprint"]),
    }


def test_unknown_version_is_404(api, issued):
    response = export(api, issued["name"], format="pfx", password=PASSWORD, version="0123456789abcdef0123456789abcdef")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "VersionNotFound"


# --- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"format": "pfx"}, 400, "PasswordRequired"),
        ({"format": "pfx", "password": ""}, 400, "PasswordRequired"),
        ({"format": "pfx", "password": "elevenchars"}, 400, "PasswordTooShort"),
        ({"format": "pem", "password": "elevenchars"}, 400, "PasswordTooShort"),
        ({"format": "pem"}, 400, "PasswordRequired"),
        ({"format": "pfx", "password": "p" * 1025}, 400, "PasswordTooLong"),
        ({"format": "pfx", "password": 123456789012345}, 400, "InvalidField"),
        ({"format": "pfx", "password": [PASSWORD]}, 400, "InvalidField"),
        ({"format": "der", "password": PASSWORD}, 400, "InvalidFormat"),
        ({"password": PASSWORD}, 400, "MissingField"),
        ({"format": "pfx", "password": PASSWORD, "encryption": "rc2"}, 400, "InvalidEncryption"),
        ({"format": "pem", "password": PASSWORD, "encryption": "legacy"}, 400, "InvalidEncryption"),
        ({"format": "pfx", "password": PASSWORD, "includeKey": False}, 400, "PfxNeedsKey"),
        ({"format": "pfx", "password": PASSWORD, "includeKey": "no"}, 400, "InvalidField"),
        ({"format": "pfx", "password": PASSWORD, "version": "../../x"}, 400, "InvalidVersion"),
        ({"format": "pfx", "password": PASSWORD, "version": "abc"}, 400, "InvalidVersion"),
        ({"format": "pfx", "password": PASSWORD, "pin": "1234"}, 400, "UnknownField"),
    ],
)
def test_bad_export_requests(api, issued, body, status, code):
    response = api.call("POST", f"certificates/{issued['name']}/export", body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    password = body.get("password")
    if isinstance(password, str) and password:
        assert password not in response.text


# Passwords are limited in UTF-8 bytes (what the encryption takes), for both formats alike.
LONGEST = [("ascii", "R" * 1023), ("two-byte", "\u00e9" * 511 + "R"), ("four-byte", "\U0001F600" * 255 + "RRR")]
TOO_LONG = [
    ("ascii", "R" * 1024), ("two-byte", "\u00e9" * 512), ("four-byte", "\U0001F600" * 256), ("huge", "R" * 4000)
]


@pytest.mark.parametrize("fmt", ["pem", "pfx"])
@pytest.mark.parametrize("password", [p for _, p in TOO_LONG], ids=[i for i, _ in TOO_LONG])
def test_password_over_1023_utf8_bytes_is_refused(api, issued, fmt, password):
    response = export(api, issued["name"], format=fmt, password=password)
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "PasswordTooLong"
    assert "1023 bytes" in error["message"]


@pytest.mark.parametrize("password", [p for _, p in LONGEST], ids=[i for i, _ in LONGEST])
def test_longest_password_opens_both_formats(api, issued, password):
    assert len(password.encode("utf-8")) == 1023
    pem = export(api, issued["name"], format="pem", password=password)
    assert pem.status_code == 200, pem.text[:300]
    serialization.load_pem_private_key(pem.content, password.encode("utf-8"))
    pfx = export(api, issued["name"], format="pfx", password=password)
    assert pfx.status_code == 200, pfx.text[:300]
    assert pkcs12.load_pkcs12(pfx.content, password.encode("utf-8")).key is not None


def test_unknown_and_never_issued_certificates(api, stack, unique):
    response = export(api, f"nope-{unique}", format="pfx", password=PASSWORD)
    assert response.status_code == 404 and response.json()["error"]["code"] == "CertificateNotFound"
    assert api.call("GET", f"certificates/nope-{unique}/secret").status_code == 404
    bad_name = export(api, "Bad_Name", format="pfx", password=PASSWORD)
    assert bad_name.status_code == 400 and bad_name.json()["error"]["code"] == "InvalidName"

    # A certificate whose first issuance has not happened: written straight to its table.
    from shared.model import Certificate
    from shared.tables import CertificateRepository, TableStore

    store = TableStore(TableServiceClient.from_connection_string(stack.storage_connection), stack.env["CERTSYNC_TABLE_PREFIX"])
    try:
        name = f"pending-{unique}"
        CertificateRepository(store).add(
            Certificate(
                name=name, hostnames=(f"{name}.example.com",), key_type="EC256", issuer="local",
                secret_name=f"cert-{name}",
            )
        )
    finally:
        store.close()
    response = export(api, name, format="pfx", password=PASSWORD)
    assert response.status_code == 409 and response.json()["error"]["code"] == "NotIssued"
    secret = api.call("GET", f"certificates/{name}/secret")
    assert secret.status_code == 200
    assert secret.json()["version"] is None and secret.json()["portalUrl"] is None


# --- the secret's location ---------------------------------------------------------------------

def test_secret_endpoint(api, issued, secret_client):
    response = api.call("GET", f"certificates/{issued['name']}/secret")
    assert response.status_code == 200, response.text
    body = response.json()
    stored = secret_client.get_secret(issued["keyVaultSecretName"])
    assert body["keyVaultSecretId"] == f"{secret_client.vault_url.rstrip('/')}/secrets/{issued['keyVaultSecretName']}"
    assert body["version"] == issued["keyVaultSecretVersion"] == stored.properties.version
    assert body["versionId"] == stored.properties.id == f"{body['keyVaultSecretId']}/{body['version']}"
    assert body["portalUrl"] is None  # the emulator is not a *.vault.azure.net vault
    assert "value" not in body


def test_secret_endpoint_names_the_version_asked_for(api, issued):
    name, version = issued["name"], issued["keyVaultSecretVersion"]
    asked = api.call("GET", f"certificates/{name}/secret?version={version}")
    assert asked.status_code == 200 and asked.json()["version"] == version, asked.text
    missing = api.call("GET", f"certificates/{name}/secret?version={'0' * 32}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "VersionNotFound"
    bad = api.call("GET", f"certificates/{name}/secret?version=latest")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidVersion"


# --- history and secrecy -----------------------------------------------------------------------

def test_exports_are_listed_in_the_history_without_the_password(api, unique):
    name = f"hist-{unique}"
    cert = create_certificate(api, name, [f"{name}.example.com"], keyType="EC256")
    headers = {"X-MS-CLIENT-PRINCIPAL-NAME": "ada@example.com"}
    assert export(api, name, headers, format="pfx", password=PASSWORD).status_code == 200
    assert export(api, name, headers, format="pfx", password=PASSWORD, encryption="legacy").status_code == 200
    assert export(api, name, headers, format="pem", includeKey=False).status_code == 200
    assert export(api, name, headers, format="pfx", password="too-short").status_code == 400  # not recorded
    response = api.call("GET", f"operations?target={name}&kind=export")
    history = response.json()["value"]
    assert len(history) == 3
    for op in history:
        assert op["kind"] == "export" and op["target"] == name and op["status"] == "Succeeded"
        assert op["requestedBy"] == "ada@example.com"
        assert op["parameters"]["thumbprint"] == cert["thumbprint"]
        assert op["parameters"]["version"] == cert["keyVaultSecretVersion"]
    kinds = sorted((o["parameters"]["format"], o["parameters"]["encryption"], o["parameters"]["includeKey"])
                   for o in history)
    assert kinds == [("pem", None, False), ("pfx", "legacy", True), ("pfx", "modern", True)]
    assert PASSWORD not in response.text and "too-short" not in response.text
    issue_history = api.call("GET", f"operations?target={name}&kind=issue").json()["value"]
    assert len(issue_history) == 1


def test_no_password_or_key_material_in_logs_or_records(api, stack, unique):
    name = f"leak-{unique}"
    create_certificate(api, name, [f"{name}.example.com"])
    password = f"never-log-me-{unique}-Zq9"
    exports = [
        export(api, name, format="pfx", password=password),
        export(api, name, format="pfx", password=password, encryption="legacy"),
        export(api, name, format="pem", password=password),
    ]
    assert [r.status_code for r in exports] == [200, 200, 200]
    refused = f"short-{unique}"[:11]
    assert export(api, name, format="pfx", password=refused).status_code == 400
    failing = f"failing-{unique}-password"
    assert export(api, name, format="pfx", password=failing, version="f" * 32).status_code == 404

    records = api.call("GET", f"operations?target={name}").text
    records += api.call("GET", f"certificates/{name}").text + api.call("GET", f"certificates/{name}/secret").text
    host_log = "".join(path.read_text(errors="replace") for path in sorted(stack.logs.glob("host*.log")))
    assert host_log, "the host log is empty: nothing was checked"
    pfx_base64 = [base64.b64encode(r.content).decode() for r in exports[:2]]
    for where, text in (("host.log", host_log), ("operation records", records)):
        for secret in (password, refused, failing, *pfx_base64, *(p[:64] for p in pfx_base64)):
            assert secret not in text, f"secret material in {where}"
        assert "PRIVATE KEY" not in text, f"a private key in {where}"
        assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text)


# --- roles -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def strict_api(storage_and_vault, tmp_path_factory):
    """A second host on the same storage and vault, with REQUIRE_ROLES=true."""
    connection, vault_url, cert, logs = storage_and_vault
    port = free_port()
    env = app_env(connection, vault_url, cert, REQUIRE_ROLES="true")
    host = env_only_host(port, env, tmp_path_factory.mktemp("strict-host"), log_path=logs / "host-strict.log")
    host.start()
    try:
        host.wait_ready(90)
        yield Api(f"http://127.0.0.1:{port}")
    finally:
        host.stop()


def test_export_needs_the_export_role(strict_api, issued):
    path = f"certificates/{issued['name']}/export"
    body = {"format": "pfx", "password": PASSWORD}

    anonymous = strict_api.call("POST", path, body)
    assert anonymous.status_code == 401, anonymous.text
    assert PASSWORD not in anonymous.text

    for roles in (("Certificates.Read",), ("Certificates.Read", "Certificates.Write")):
        refused = strict_api.call("POST", path, body, headers={"X-MS-CLIENT-PRINCIPAL": principal(*roles)})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "MissingRole"

    allowed = strict_api.call("POST", path, body, headers={"X-MS-CLIENT-PRINCIPAL": principal("Certificates.Export")})
    assert_file_headers(allowed, issued["name"], issued["thumbprint"], "pfx", "application/x-pkcs12")
    assert sha1(pkcs12.load_pkcs12(allowed.content, PASSWORD.encode()).cert.certificate) == issued["thumbprint"]

    reader = {"X-MS-CLIENT-PRINCIPAL": principal("Certificates.Read")}
    history = strict_api.call("GET", f"operations?target={issued['name']}&kind=export", headers=reader)
    assert history.status_code == 200
    assert any(op["requestedBy"] == "ada" for op in history.json()["value"])


def test_read_and_write_roles_on_the_strict_host(strict_api, issued):
    reader = {"X-MS-CLIENT-PRINCIPAL": principal("Certificates.Read")}
    assert strict_api.call("GET", f"certificates/{issued['name']}/secret").status_code == 401
    secret = strict_api.call("GET", f"certificates/{issued['name']}/secret", headers=reader)
    assert secret.status_code == 200 and secret.json()["version"] == issued["keyVaultSecretVersion"]
    exporter_only = {"X-MS-CLIENT-PRINCIPAL": principal("Certificates.Export")}
    assert strict_api.call("GET", f"certificates/{issued['name']}/secret", headers=exporter_only).status_code == 403
    renew = strict_api.call("POST", f"certificates/{issued['name']}/renew", headers=reader)
    assert renew.status_code == 403 and renew.json()["error"]["code"] == "MissingRole"
