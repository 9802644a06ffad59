"""The bench's local stack: Azurite, two Key Vault emulators and, on demand, the function host.

Every process is started on a free port and stopped by `close()`, also when a section fails.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devtools.processes import (
    Service,
    app_settings,
    azurite,
    env_only_host,
    free_port,
    key_vault_emulator,
    storage_connection_string,
)


def app_env(connection: str, vault_url: str, cert: Path, **overrides: str) -> dict[str, str]:
    return app_settings(connection, vault_url, cert, **{"CERTSYNC_TABLE_PREFIX": "bench", "OPERATIONS_QUEUE": "bench-operations", **overrides})


@dataclass(frozen=True)
class EmulatorAdmin:
    """The emulator's /_emulator/ management API. `verify` is passed per request because a
    REQUESTS_CA_BUNDLE in the environment would override a session's own setting."""

    url: str
    cert: Path

    def counters(self) -> dict[str, int]:
        return self._call("GET", "counters").json()

    def set_latency(self, milliseconds: int) -> None:
        self._call("PUT", "faults", json={"latencyMs": milliseconds})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def _call(self, method: str, resource: str, **kw) -> requests.Response:
        response = requests.request(method, f"{self.url}/_emulator/{resource}", verify=str(self.cert), timeout=30, **kw)
        response.raise_for_status()
        return response


@dataclass
class BenchStack:
    base: Path
    connection: str = ""
    cert: Path = Path()
    vault_urls: list[str] = field(default_factory=list)
    host_url: str = ""
    _services: list[Service] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.base / "logs"

    @property
    def admins(self) -> list[EmulatorAdmin]:
        return [EmulatorAdmin(url, self.cert) for url in self.vault_urls]

    def start_storage_and_vaults(self, vaults: int = 2) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        blob, queue, table = free_port(), free_port(), free_port()
        self._start(azurite(blob, queue, table, self.base / "azurite", in_memory=True, log_path=self.logs / "azurite.log"))
        self.connection = storage_connection_string(blob, queue, table)
        tls = self.base / "tls"
        self.cert = tls / "emulator-cert.pem"
        for index in range(vaults):
            # One after the other: the first makes the certificate in tls/, the others reuse it,
            # so one trusted file (KEY_VAULT_EMULATOR_CERT) covers every vault.
            port = free_port()
            self._start(key_vault_emulator(port, None, tls, log_path=self.logs / f"keyvault-{index}.log"))
            _wait_for_file(self.cert)
            self.vault_urls.append(f"https://127.0.0.1:{port}")

    def start_host(self, env: dict[str, str]) -> None:
        port = free_port()
        self._start(env_only_host(port, env, self.base / "host", log_path=self.logs / "host.log"), timeout=90)
        self.host_url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        for service in reversed(self._services):
            service.stop()
        self._services.clear()

    def _start(self, service: Service, timeout: float = 60) -> None:
        self._services.append(service)  # before start: a half-started process is still stopped
        service.start()
        service.wait_ready(timeout)


def _wait_for_file(path: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear within {timeout:.0f}s")
        time.sleep(0.05)
