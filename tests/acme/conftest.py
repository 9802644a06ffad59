"""ACME issuer test rig: real Pebble + pebble-challtestsrv on free loopback ports, a fake vault,
and a tiny scripted ACME server for answers Pebble cannot give (429, ARI, a stuck order).

No __init__.py here on purpose: a package named `acme` would shadow the acme library.
"""
from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devtools.challtestsrv_dns import ChallTestSrvProvider
from devtools.processes import free_dns_port, free_port
from shared.errors import NotFound
from shared.issuers.acme import AcmeIssuer
from shared.vault import SecretVersion

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
CHALLTESTSRV = shutil.which("pebble-challtestsrv") or "/usr/bin/pebble-challtestsrv"
EAB_EXAMPLE = Path("/usr/share/doc/pebble/examples/pebble-config-external-account-bindings.json")
STARTUP_SECONDS = 15.0


# ---- fake vault -----------------------------------------------------------------------------


class FakeVault:
    """In-memory stand-in for shared.vault.Vault's get_secret/set_secret (latest version wins)."""

    def __init__(self) -> None:
        self.versions: dict[str, list[SecretVersion]] = {}
        self.writes = 0

    def get_secret(self, name: str, version: str | None = None) -> SecretVersion:
        versions = self.versions.get(name)
        if not versions:
            raise NotFound(f"secret {name} was not found in Key Vault", code="SecretNotFound")
        return versions[-1]

    def set_secret(
        self, name: str, value: str, *, content_type: str | None = None, tags: dict[str, str] | None = None, **_: Any
    ) -> SecretVersion:
        self.writes += 1
        version = SecretVersion(
            name=name,
            version=secrets.token_hex(16),
            id=f"https://fake.vault/secrets/{name}",
            content_type=content_type,
            enabled=True,
            updated_on=datetime.now(timezone.utc),
            tags=dict(tags or {}),
            value=value,
        )
        self.versions.setdefault(name, []).append(version)
        return version


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault()


# ---- processes ---------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def start_process(name: str, args: list[str], workdir: Path, env: dict[str, str] | None = None) -> Process:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log_file:
        popen = subprocess.Popen(
            args, cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    return Process(name, popen, log_path)


def wait_until(process: Process, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}")
        try:
            if ready():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.05)
    process.stop()
    raise RuntimeError(f"{process.name} not ready after {STARTUP_SECONDS:g} s:\n{process.log_tail()}")


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    return free_port()


def tcp_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


# ---- challtestsrv ----------------------------------------------------------------------------


@dataclass
class ChallTestSrv:
    management_url: str
    dns_address: str
    process: Process

    def provider(self) -> ChallTestSrvProvider:
        return ChallTestSrvProvider(self.management_url)


@pytest.fixture(scope="session")
def challtestsrv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChallTestSrv]:
    if not Path(CHALLTESTSRV).exists():
        pytest.fail("pebble-challtestsrv is not installed: `make test` installs the Debian package pebble")
    workdir = tmp_path_factory.mktemp("challtestsrv")
    dns_port, management_port = free_dns_port(), free_port()
    args = [
        CHALLTESTSRV,
        "-dns01", f"127.0.0.1:{dns_port}",
        "-management", f"127.0.0.1:{management_port}",
        "-http01", "",
        "-https01", "",
        "-tlsalpn01", "",
    ]  # fmt: skip
    process = start_process("challtestsrv", args, workdir)
    try:
        wait_until(process, lambda: tcp_open(management_port) and tcp_open(dns_port))
        yield ChallTestSrv(f"http://127.0.0.1:{management_port}", f"127.0.0.1:{dns_port}", process)
    finally:
        process.stop()


# ---- pebble ---------------------------------------------------------------------------------


@dataclass
class Pebble:
    directory_url: str
    management_url: str
    ca_bundle: Path  # trusts Pebble's own TLS listener (not the CA it issues from)
    process: Process
    eab_keys: dict[str, str] = field(default_factory=dict)

    def root(self) -> x509.Certificate:
        """Pebble makes a fresh issuing root each launch; the management API hands it out."""
        response = requests.get(f"{self.management_url}/roots/0", verify=str(self.ca_bundle), timeout=5)
        response.raise_for_status()
        return x509.load_pem_x509_certificate(response.content)


def write_tls_material(workdir: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a 127.0.0.1/localhost server certificate for Pebble's HTTPS listeners."""
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certsync test TLS CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = workdir / "tls-ca.pem", workdir / "tls-cert.pem", workdir / "tls-key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


def start_pebble(workdir: Path, dns_address: str, *, eab_keys: dict[str, str] | None = None) -> Pebble:
    if not Path(PEBBLE).exists():
        pytest.fail("pebble is not installed: `make test` installs the Debian package pebble")
    ca_path, cert_path, key_path = write_tls_material(workdir)
    port, management_port = free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{management_port}",
            "certificate": str(cert_path),
            "privateKey": str(key_path),
            # Ports Pebble's VA would dial for http-01/tls-alpn-01; nothing listens, DNS-01 only.
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(eab_keys),
            **({"externalAccountMACKeys": eab_keys} if eab_keys else {}),
        }
    }
    config_path = workdir / "pebble-config.json"
    config_path.write_text(json.dumps(config, indent=2))
    env = {
        "PEBBLE_VA_NOSLEEP": "1",  # validate at once instead of sleeping up to 5 s
        "PEBBLE_WFE_NONCEREJECT": "0",  # no random badNonce rejections
        "PEBBLE_AUTHZREUSE": "0",  # every order validates afresh, so renewals exercise DNS-01 too
    }
    process = start_process(
        "pebble-eab" if eab_keys else "pebble",
        [PEBBLE, "-config", str(config_path), "-dnsserver", dns_address],
        workdir,
        env,
    )
    directory_url = f"https://127.0.0.1:{port}/dir"
    wait_until(process, lambda: requests.get(directory_url, verify=str(ca_path), timeout=1).status_code == 200)
    return Pebble(directory_url, f"https://127.0.0.1:{management_port}", ca_path, process, dict(eab_keys or {}))


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory, challtestsrv: ChallTestSrv) -> Iterator[Pebble]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"), challtestsrv.dns_address)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="session")
def pebble_azure(tmp_path_factory: pytest.TempPathFactory, arm_stack: Any) -> Iterator[Pebble]:
    """A Pebble whose DNS server is the ARM emulator's: DNS-01 reads what Azure DNS (emulated) holds."""
    server = start_pebble(tmp_path_factory.mktemp("pebble-azure"), f"127.0.0.1:{arm_stack.dns_port}")
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="session")
def pebble_eab(tmp_path_factory: pytest.TempPathFactory, challtestsrv: ChallTestSrv) -> Iterator[Pebble]:
    keys = json.loads(EAB_EXAMPLE.read_text())["pebble"]["externalAccountMACKeys"] if EAB_EXAMPLE.exists() else {}
    if not keys:
        pytest.fail(f"{EAB_EXAMPLE} is missing: it ships with the Debian package pebble")
    server = start_pebble(tmp_path_factory.mktemp("pebble-eab"), challtestsrv.dns_address, eab_keys=keys)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture
def make_issuer(pebble: Pebble, challtestsrv: ChallTestSrv, vault: FakeVault) -> Callable[..., AcmeIssuer]:
    """An AcmeIssuer against the session Pebble; keyword arguments override the defaults."""

    def make(**overrides: Any) -> AcmeIssuer:
        options: dict[str, Any] = dict(
            vault=vault,
            dns=challtestsrv.provider(),
            contact_email="certsync-tests@example.com",
            ca_bundle=pebble.ca_bundle,
            order_timeout=30.0,
            poll_interval=0.1,
            network_timeout=10,
        )
        options.update(overrides)
        return AcmeIssuer(options.pop("directory_url", pebble.directory_url), **options)

    return make


# ---- scripted ACME server -------------------------------------------------------------------


Reply = tuple[int, dict[str, str], Any]  # status, headers, JSON body (or str for raw text)
Route = Callable[["ScriptedAcme", str, bytes], Reply]


@dataclass
class ScriptedAcme:
    """A plain-HTTP ACME look-alike on loopback answering from a route table.

    `directory` starts as a copy of another directory (e.g. Pebble's) or a minimal one, so a
    test can send most requests to the real CA and only the step under test here.
    """

    base_url: str
    directory: dict[str, Any]
    routes: dict[tuple[str, str], Route]
    requests: list[tuple[str, str, float]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, method: str, path: str) -> Callable[[Route], Route]:
        def register(handler: Route) -> Route:
            self.routes[(method, path)] = handler
            return handler

        return register

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests if (m, p) == (method, path))


def _nonce() -> str:
    return secrets.token_urlsafe(16)


def _default_routes() -> dict[tuple[str, str], Route]:
    def directory(server: ScriptedAcme, path: str, body: bytes) -> Reply:
        return 200, {}, server.directory

    def new_nonce(server: ScriptedAcme, path: str, body: bytes) -> Reply:
        return 200, {"Replay-Nonce": _nonce(), "Cache-Control": "no-store"}, None

    def new_account(server: ScriptedAcme, path: str, body: bytes) -> Reply:
        return 201, {"Location": server.url("/acct/1")}, {"status": "valid", "contact": []}

    return {
        ("GET", "/dir"): directory,
        ("HEAD", "/nonce"): new_nonce,
        ("GET", "/nonce"): new_nonce,
        ("POST", "/new-account"): new_account,
    }


@pytest.fixture
def scripted_acme() -> Iterator[Callable[..., ScriptedAcme]]:
    """Start ScriptedAcme servers: scripted_acme(base_directory=None) -> server (stopped at teardown)."""
    servers: list[ThreadingHTTPServer] = []

    def start(base_directory: dict[str, Any] | None = None) -> ScriptedAcme:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        directory = dict(base_directory) if base_directory else {
            "newNonce": base + "/nonce",
            "newAccount": base + "/new-account",
            "newOrder": base + "/new-order",
            "revokeCert": base + "/revoke",
            "keyChange": base + "/key-change",
        }
        server = ScriptedAcme(base, directory, _default_routes())
        httpd.scripted = server  # type: ignore[attr-defined]
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(httpd)
        return server

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        server: ScriptedAcme = self.server.scripted  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server.requests.append((method, self.path, time.monotonic()))
        handler = server.routes.get((method, self.path)) or next(
            (h for (m, p), h in server.routes.items() if m == method and p.endswith("/") and self.path.startswith(p)),
            None,
        )  # a route ending in "/" answers every path below it
        if handler is None:
            status, headers, payload = 404, {"Content-Type": "application/problem+json"}, {
                "type": "urn:ietf:params:acme:error:malformed",
                "detail": f"no scripted answer for {method} {self.path}",
            }
        else:
            status, headers, payload = handler(server, self.path, body)
        data = b"" if payload is None else (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(status)
        headers = {"Content-Type": "application/json", "Replay-Nonce": _nonce(), **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep pytest output quiet
        pass


@pytest.fixture
def acme_ctx(make_ctx, pebble: Pebble, challtestsrv: ChallTestSrv):
    """The app's context (Azurite, Key Vault emulator) issuing from Pebble, DNS-01 through challtestsrv."""
    return make_ctx(
        ACME_DIRECTORY_URL=pebble.directory_url,
        ACME_CA_BUNDLE=str(pebble.ca_bundle),
        ACME_CONTACT="certsync-tests@example.com",
        dns=challtestsrv.provider(),
    )
