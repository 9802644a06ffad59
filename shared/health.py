"""Dependency health: can we reach Table Storage and Key Vault right now?"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from shared.app_context import get_context
from shared.errors import CertsyncError, NotFound
from shared.settings import SettingsError

log = logging.getLogger("certsync.health")


@dataclass(frozen=True)
class DependencyState:
    name: str
    healthy: bool
    latency_ms: float
    detail: str = ""


@dataclass(frozen=True)
class HealthReport:
    dependencies: tuple[DependencyState, ...]

    @property
    def healthy(self) -> bool:
        return all(d.healthy for d in self.dependencies)

    def as_dict(self) -> dict:
        return {
            "status": "Healthy" if self.healthy else "Unhealthy",
            "dependencies": {
                d.name: {"status": "Healthy" if d.healthy else "Unhealthy", "latencyMs": round(d.latency_ms, 1), **({"detail": d.detail} if d.detail else {})}
                for d in self.dependencies
            },
        }


def check_dependencies() -> HealthReport:
    try:
        ctx = get_context()
    except (SettingsError, CertsyncError) as err:
        log.error("health: configuration: %s", err)
        detail = "ConfigurationError"
        return HealthReport((DependencyState("tableStorage", False, 0, detail), DependencyState("keyVault", False, 0, detail)))
    return HealthReport((_probe("tableStorage", ctx.store.ping), _probe("keyVault", lambda: _vault_probe(ctx))))


def _vault_probe(ctx) -> None:
    try:
        ctx.vault.get_secret("certsync-health-probe")
    except NotFound:
        pass  # reachable and authorised: the probe secret need not exist


def _probe(name: str, check) -> DependencyState:
    start = time.perf_counter()
    try:
        check()
    except CertsyncError as err:
        # Anonymous callers see the code only; the server's words (ids, vault names) go to the log.
        log.warning("health: %s unhealthy: %s", name, err.message)
        return DependencyState(name, False, (time.perf_counter() - start) * 1000, err.code)
    except Exception as err:  # noqa: BLE001 - health must answer, whatever broke
        return DependencyState(name, False, (time.perf_counter() - start) * 1000, type(err).__name__)
    return DependencyState(name, True, (time.perf_counter() - start) * 1000)
