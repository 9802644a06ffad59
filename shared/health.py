"""Health: is the app configured, and can it reach Table Storage and every Key Vault right now?"""
from __future__ import annotations

import logging
import time
from contextlib import suppress
from dataclasses import dataclass

from shared.app_context import AppContext
from shared.errors import CertsyncError, NotFound

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
    configuration_problem: str = ""  # the bad app setting found at start, in its own words

    @property
    def healthy(self) -> bool:
        return not self.configuration_problem and all(d.healthy for d in self.dependencies)

    def as_dict(self) -> dict:
        configuration = {"configuration": {"status": "Unhealthy", "detail": self.configuration_problem}}
        return {
            "status": "Healthy" if self.healthy else "Unhealthy",
            **(configuration if self.configuration_problem else {}),
            "dependencies": {
                d.name: {
                    "status": "Healthy" if d.healthy else "Unhealthy",
                    "latencyMs": round(d.latency_ms, 1),
                    **({"detail": d.detail} if d.detail else {}),
                }
                for d in self.dependencies
            },
        }


def not_configured(problem: str) -> HealthReport:
    """Nothing was probed: without valid settings there are no clients to probe with."""
    detail = "ConfigurationError"
    states = (DependencyState("tableStorage", False, 0, detail), DependencyState("keyVault", False, 0, detail))
    return HealthReport(states, configuration_problem=problem)


def check_dependencies(ctx: AppContext) -> HealthReport:
    return HealthReport((_probe("tableStorage", ctx.store.ping), _probe("keyVault", lambda: _vault_probe(ctx))))


def _vault_probe(ctx: AppContext) -> None:
    """Every configured vault: a certificate in any of them must be renewable."""
    for known in ctx.settings.vaults:
        with suppress(NotFound):  # reachable and authorised: the probe secret need not exist
            ctx.vault_for(known.url).get_secret("certsync-health-probe")


def _probe(name: str, check) -> DependencyState:
    start = time.perf_counter()
    try:
        check()
    except CertsyncError as err:
        # Anonymous callers see the code only; the server's words (ids, vault names) go to the log.
        log.warning("health: %s unhealthy: %s", name, err.message)
        return DependencyState(name, False, (time.perf_counter() - start) * 1000, err.code)
    except Exception as err:
        return DependencyState(name, False, (time.perf_counter() - start) * 1000, type(err).__name__)
    return DependencyState(name, True, (time.perf_counter() - start) * 1000)
