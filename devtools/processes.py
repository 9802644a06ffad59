"""Start and stop the local stack's processes (Azurite, the Key Vault and ARM emulators, the app).

Used by `make run` (fixed ports, data under .data/) and by the tests (free ports, in memory).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devtools.kv_emulator.tls import TlsFiles

ROOT = Path(__file__).resolve().parent.parent
AZURITE = ROOT / "node_modules" / ".bin" / "azurite"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_dns_port() -> int:
    """A loopback port free for both TCP and UDP (a DNS server listens on both)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise OSError("no loopback port free for both TCP and UDP")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def storage_service_uris(blob: int, queue: int, table: int) -> dict[str, str]:
    """Identity-based AzureWebJobsStorage settings for an HTTPS Azurite (path-style URIs)."""
    base = "https://127.0.0.1"
    return {
        "AzureWebJobsStorage__blobServiceUri": f"{base}:{blob}/devstoreaccount1",
        "AzureWebJobsStorage__queueServiceUri": f"{base}:{queue}/devstoreaccount1",
        "AzureWebJobsStorage__tableServiceUri": f"{base}:{table}/devstoreaccount1",
    }


def storage_connection_string(blob: int, queue: int, table: int) -> str:
    base = "http://127.0.0.1"
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={DEV_ACCOUNT_KEY};"
        f"BlobEndpoint={base}:{blob}/devstoreaccount1;"
        f"QueueEndpoint={base}:{queue}/devstoreaccount1;"
        f"TableEndpoint={base}:{table}/devstoreaccount1;"
    )


@dataclass
class Service:
    """One child process with a readiness check."""

    name: str
    argv: list[str]
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    cwd: Path = ROOT
    process: subprocess.Popen | None = None

    def start(self) -> None:
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - the child owns it; None: share our terminal
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT if self.log_path else None,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}{self._log_tail()}")
            if self.ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} was not ready after {timeout:.0f}s{self._log_tail()}")

    def stop(self, timeout: float = 10) -> None:
        if not self.process or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)
        except ProcessLookupError:
            pass

    def _log_tail(self) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n" + self.log_path.read_text(errors="replace")[-3000:]


def azurite(
    blob: int, queue: int, table: int, location: Path, in_memory: bool, log_path: Path | None = None,
    tls: TlsFiles | None = None,
) -> Service:
    """Azurite on loopback; with `tls` it serves HTTPS and accepts OAuth bearer tokens
    (`--oauth basic`, which Azurite allows only over HTTPS) as well as shared keys."""
    argv = [
        str(AZURITE), "--silent", "--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry",
        "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
        "--blobPort", str(blob), "--queuePort", str(queue), "--tablePort", str(table),
    ]  # fmt: skip
    argv += ["--inMemoryPersistence"] if in_memory else ["--location", str(location)]
    if tls:
        argv += ["--oauth", "basic", "--cert", str(tls.cert_path), "--key", str(tls.key_path)]
    return Service("azurite", argv, lambda: all(port_open(p) for p in (blob, queue, table)), log_path=log_path)


def key_vault_emulator(port: int, data_dir: Path | None, tls_dir: Path, log_path: Path | None = None) -> Service:
    argv = [sys.executable, "-m", "devtools.kv_emulator", "--port", str(port), "--tls-dir", str(tls_dir)]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    return Service("key vault emulator", argv, lambda: port_open(port), log_path=log_path)


def arm_emulator(
    port: int,
    tls_port: int,
    data_dir: Path | None,
    tls_dir: Path,
    vault_url: str | None,
    vault_cert: Path | None,
    log_path: Path | None = None,
    dns_port: int | None = None,
    extra_vaults: dict[str, str] | None = None,
) -> Service:
    """The ARM emulator (API on `port`, TLS front on `tls_port`, DNS on `dns_port` (UDP+TCP), default 8053),
    importing certificates from the vault."""
    argv = [sys.executable, "-m", "devtools.arm_emulator", "--port", str(port), "--tls-port", str(tls_port)]
    if dns_port is not None:
        argv += ["--dns-port", str(dns_port)]
    argv += ["--tls-dir", str(tls_dir)]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    if vault_url is not None and vault_cert is not None:
        argv += ["--key-vault-url", vault_url, "--key-vault-cert", str(vault_cert)]
        for name, url in (extra_vaults or {}).items():
            argv += ["--extra-key-vault", f"{name}={url}"]
    ports = [port, tls_port, *([dns_port] if dns_port else [])]
    return Service("ARM emulator", argv, lambda: all(port_open(p) for p in ports), log_path=log_path)


def app_settings(connection: str, vault_url: str, cert: Path, **overrides: str) -> dict[str, str]:
    """App settings for a run against the local emulators; timers never fire on their own
    (tests and benchmarks run them on purpose) and renewals are not jittered."""
    settings = {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": connection,
        "KEY_VAULT_URL": vault_url,
        "KEY_VAULT_EMULATOR_CERT": str(cert),
        "CERTSYNC_TABLE_PREFIX": "certsync",
        "OPERATIONS_QUEUE": "certsync-operations",
        "AUTO_RENEW_SCHEDULE": "0 0 0 1 1 *",
        "SYNC_SWEEP_SCHEDULE": "0 0 0 1 1 *",
        "AUTO_RENEW_JITTER_SECONDS": "0",
        "AUTO_SYNC_AFTER_RENEWAL": "true",
        "REQUIRE_ROLES": "false",
    }
    settings.update(overrides)
    return settings


def env_only_host(port: int, env: dict[str, str], workdir: Path, log_path: Path | None = None) -> Service:
    """A function host whose settings all come from `env` (an empty local.settings.json)."""
    workdir.mkdir(parents=True, exist_ok=True)
    settings = workdir / "local.settings.json"
    settings.write_text('{"IsEncrypted": false, "Values": {}}')
    return function_host(port, env, str(settings), log_path=log_path)


def function_host(port: int, env: dict[str, str], settings_file: str, log_path: Path | None = None) -> Service:
    argv = [sys.executable, "-m", "devtools.local_host", "--app-dir", str(ROOT), "--port", str(port)]
    argv += ["--settings", settings_file]
    return Service("function host", argv, lambda: port_open(port), env=env, log_path=log_path)


def package_host(
    python: Path, package_dir: Path, import_dir: Path, port: int, env: dict[str, str], workdir: Path,
    log_path: Path | None = None,
) -> Service:
    """Our local host serving a deployment package with another interpreter (a fresh virtualenv).

    The host runs in the package folder, so the app's modules and files come from the package;
    `import_dir` holds only `devtools` (the host is not part of the package) and is the one other
    entry of PYTHONPATH. Settings come from `env` alone, as in `env_only_host`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    settings = workdir / "local.settings.json"
    settings.write_text('{"IsEncrypted": false, "Values": {}}')
    argv = [str(python), "-m", "devtools.local_host", "--app-dir", str(package_dir), "--port", str(port)]
    argv += ["--settings", str(settings)]
    host_env = {**env, "PYTHONPATH": str(import_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    return Service("package host", argv, lambda: port_open(port), env=host_env, log_path=log_path, cwd=package_dir)
