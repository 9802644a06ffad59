"""Composition root: the one place the application is put together, once, at start.

function_app.py calls `start()` when the Functions worker imports it: the settings are read and
validated, the application context is built, the operation handlers are registered (explicitly,
here) and the last queue delivery is read from host.json. A missing or malformed setting is
logged once, here, and kept: GET /api/health answers 503 with the reason and every other
endpoint a 503 ConfigurationError, instead of each request failing on its own.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared import logs, telemetry
from shared.app_context import AppContext
from shared.dns.base import DnsProvider
from shared.errors import ServiceNotConfigured
from shared.lifecycle import run_issuance
from shared.model import OperationKind
from shared.notify.delivery import run_delivery
from shared.notify.events import notify_sync_failure
from shared.operations import Handler, OperationEngine
from shared.revoke import run_revocation
from shared.settings import Settings, SettingsError, max_dequeue_count
from shared.sweep import run_sweep_unit
from shared.sync.handlers import run_certificate_sync, run_link_sync

log = logging.getLogger("certsync.start")
HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"
APPINSIGHTS_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"  # set: metrics and traces go to Azure Monitor


def operation_handlers() -> dict[OperationKind, Handler]:
    """Which use case runs each queued operation kind. Exports run inline and are never queued:
    an export operation in the queue fails as an operation (no handler)."""
    return {
        OperationKind.ISSUE: run_issuance,
        OperationKind.RENEW: run_issuance,
        OperationKind.REKEY: run_issuance,
        OperationKind.SYNC_LINK: notify_sync_failure(run_link_sync),
        OperationKind.SYNC_CERTIFICATE: notify_sync_failure(run_certificate_sync),
        OperationKind.SWEEP: run_sweep_unit,
        OperationKind.DELIVER_WEBHOOK: run_delivery,
        OperationKind.REVOKE: run_revocation,
    }


def build_engine(host_json: Path = HOST_JSON) -> OperationEngine:
    return OperationEngine(operation_handlers(), last_delivery=max_dequeue_count(host_json))


@dataclass(frozen=True)
class Application:
    settings: Settings
    context: AppContext
    engine: OperationEngine


def compose(
    env: Mapping[str, str] | None = None, *, host_json: Path = HOST_JSON, dns: DnsProvider | None = None
) -> Application:
    """Build everything from app settings; raises SettingsError naming the first bad setting.
    `dns` is for tests, which hand in their DNS double (no app setting selects one)."""
    settings = Settings.from_env(os.environ if env is None else env)
    engine = build_engine(host_json)
    return Application(settings, AppContext.from_settings(settings, dns=dns), engine)


@dataclass
class _Started:
    application: Application | None = None
    problem: str = "the application has not been started"


_started = _Started()


def start(env: Mapping[str, str] | None = None, *, host_json: Path = HOST_JSON) -> Application | None:
    """Compose once at start. A bad setting is logged here, once, and answered by every endpoint."""
    logs.install()
    source = os.environ if env is None else env
    telemetry.install(telemetry.telemetry_for(source.get(APPINSIGHTS_SETTING) or None))
    try:
        _started.application, _started.problem = compose(env, host_json=host_json), ""
    except SettingsError as err:
        _started.application, _started.problem = None, str(err)
        log.error("certsync cannot serve: %s; fix the app setting and restart", err)
    return _started.application


def startup_problem() -> str:
    """Why the application is not serving ("" when it is)."""
    return _started.problem


def application() -> Application:
    """The application composed at start, or a 503 ConfigurationError saying what is wrong."""
    if _started.application is None:
        raise ServiceNotConfigured(f"certsync is not configured: {_started.problem}")
    return _started.application


def get_context() -> AppContext:
    """The application context composed at start (triggers call this; it never builds one)."""
    return application().context
