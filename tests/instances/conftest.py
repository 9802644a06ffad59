"""Three instances of the function app on our local host, sharing one Azurite and one Key Vault
emulator, as Azure Functions scales one app out. Their own services (not the session stack),
so their timer locks and queue are theirs alone."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from azure.keyvault.secrets import SecretClient

from devtools.processes import (
    Service,
    app_settings,
    azurite,
    env_only_host,
    free_port,
    key_vault_emulator,
    storage_connection_string,
)
from shared.app_context import AppContext
from shared.credentials import EmulatorCredential
from shared.settings import Settings

TICK_SECONDS = 4
INSTANCES = 3


@dataclass
class Instance:
    name: str
    url: str
    service: Service
    log_path: Path
    alive: bool = True

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lease released, messages in flight stay leased."""
        assert self.service.process is not None
        os.killpg(self.service.process.pid, signal.SIGKILL)
        self.service.process.wait(10)
        self.alive = False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Fleet:
    env: dict[str, str]
    instances: list[Instance]
    ctx: AppContext
    secrets: SecretClient
    services: list[Service] = field(default_factory=list)

    def live(self) -> list[Instance]:
        return [i for i in self.instances if i.alive]


def fleet_env(connection: str, vault_url: str, cert: Path) -> dict[str, str]:
    """Timers every few seconds so the burst spans many ticks; short locks and message leases
    so a killed instance's timer and messages are taken over within the test."""
    return app_settings(
        connection, vault_url, cert,
        AUTO_RENEW_SCHEDULE=f"*/{TICK_SECONDS} * * * * *",
        SYNC_SWEEP_SCHEDULE=f"*/{TICK_SECONDS} * * * * *",
        AzureFunctionsJobHost__singleton__listenerLockPeriod="00:00:15",
        AzureFunctionsJobHost__singleton__listenerLockRecoveryPollingInterval="00:00:01",
        AzureFunctionsJobHost__extensions__queues__maxPollingInterval="00:00:00.5",
        DEVTOOLS_QUEUE_MESSAGE_LEASE="00:00:15",
    )  # fmt: skip


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    base = tmp_path_factory.mktemp("instances")
    logs = base / "logs"
    logs.mkdir()
    blob, queue, table, kv = free_port(), free_port(), free_port(), free_port()
    services = [
        azurite(blob, queue, table, base / "azurite", in_memory=True, log_path=logs / "azurite.log"),
        key_vault_emulator(kv, None, base / "tls", log_path=logs / "keyvault.log"),
    ]
    instances: list[Instance] = []
    ctx: AppContext | None = None
    try:
        for service in services:
            service.start()
        for service in services:
            service.wait_ready()
        cert = base / "tls" / "emulator-cert.pem"
        deadline = time.monotonic() + 10
        while not cert.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        vault_url = f"https://127.0.0.1:{kv}"
        env = fleet_env(storage_connection_string(blob, queue, table), vault_url, cert)
        for index in range(INSTANCES):
            port = free_port()
            log_path = logs / f"host-{index}.log"
            host = env_only_host(port, env, base / f"host-{index}", log_path=log_path)
            instances.append(Instance(f"host-{index}", f"http://127.0.0.1:{port}", host, log_path))
            host.start()
        for instance in instances:
            instance.service.wait_ready(90)
        ctx = AppContext.from_settings(Settings.from_env(env))
        secrets = SecretClient(vault_url, EmulatorCredential(), verify_challenge_resource=False,
                               connection_verify=str(cert))  # fmt: skip
        yield Fleet(env, instances, ctx, secrets, services)
        secrets.close()
    finally:
        for instance in instances:
            instance.service.stop()
        for service in reversed(services):
            service.stop()
        if ctx is not None:
            ctx.queue.close()
