"""LocalHost: load settings, index the app, run its HTTP, timer and queue triggers, stop cleanly.

Start order follows Core Tools: bind the port, export local.settings.json, read host.json,
import the app. A broken app (import error, binding/parameter mismatch) stops the start; a
broken function (unresolved %SETTING%, bad schedule or route) is reported "in error" and
skipped while the others run, as the host does.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.storage.blob import BlobServiceClient

from devtools.local_host.app_settings import (
    SettingsFileError,
    UnresolvedSettingError,
    apply_settings,
    read_local_settings,
    resolve_setting_expressions,
)
from devtools.local_host.cors import CorsPolicy
from devtools.local_host.discovery import HTTP_TRIGGER, QUEUE_TRIGGER, TIMER_TRIGGER, FunctionSpec, discover_functions
from devtools.local_host.function_keys import (
    DEFAULT_KEYS_DIR,
    HOST_KEYS_FILE,
    KEYS_DIR_SETTING,
    FunctionKeys,
    keys_enabled,
    required_level,
)
from devtools.local_host.host_config import HostConfig, load_host_config
from devtools.local_host.http_front import HTTP_REASON, HttpFrontEnd
from devtools.local_host.http_server import FunctionsHttpServer
from devtools.local_host.invoker import InvocationResult, Invoker
from devtools.local_host.ncrontab import CronError
from devtools.local_host.queue_listener import QueueListener, poison_queue_name
from devtools.local_host.queue_messages import trigger_argument, trigger_message
from devtools.local_host.queue_output import QueueOutputSink
from devtools.local_host.routing import RouteTable, RouteTemplate, RouteTemplateError
from devtools.local_host.schedule_monitor import (
    BlobScheduleMonitor,
    MemoryScheduleMonitor,
    ScheduleMonitor,
    blob_service,
    host_id,
)
from devtools.local_host.schedules import parse_schedule
from devtools.local_host.singleton import BlobLeaseLock, ProcessLock, TimerLock
from devtools.local_host.storage import ConnectionSettingError, QueueClients
from devtools.local_host.timers import TimerRunner

log = logging.getLogger("devtools.local_host")

DEFAULT_PORT = 7071
DEFAULT_SETTINGS_FILE = "local.settings.json"
ADMIN_REASON = HTTP_REASON
_QUEUE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_FUNCTION_ERRORS = (RouteTemplateError, CronError, UnresolvedSettingError, ConnectionSettingError, ValueError)


def _is_disabled(name: str) -> bool:
    """App setting `AzureWebJobs.<name>.Disabled`, the host's way to switch a function off."""
    return os.environ.get(f"AzureWebJobs.{name}.Disabled", "").strip().lower() in ("true", "1")


def _storage_configured(environ: Mapping[str, str]) -> bool:
    """AzureWebJobsStorage as a connection string or as an identity-based `__` section."""
    return bool(environ.get("AzureWebJobsStorage")) or any(
        k.startswith("AzureWebJobsStorage__") and v for k, v in environ.items()
    )


@dataclass
class LoadedFunction:
    spec: FunctionSpec
    disabled: bool
    route: str | None = None  # HTTP functions: resolved route template


class LocalHost:
    """Runs one Functions app in this process; see README.md in this folder."""

    def __init__(
        self,
        app_dir: Path | str,
        host: str = "127.0.0.1",
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        settings_file: Path | str | None = None,
        functions: Sequence[str] | None = None,
        chdir: bool = False,
        enable_auth: bool = False,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.host = host
        self._requested_port = port
        self._env = dict(env or {})
        self._settings_file = settings_file
        self._only = [f.lower() for f in functions] if functions else None
        self._chdir = chdir
        self._enable_auth = enable_auth
        self.keys: FunctionKeys | None = None
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.config = HostConfig()
        self.functions: list[LoadedFunction] = []
        self._by_name: dict[str, LoadedFunction] = {}
        self._timers: dict[str, TimerRunner] = {}
        self._listeners: dict[str, QueueListener] = {}
        self._routes: RouteTable[FunctionSpec] = RouteTable(self.config.route_prefix)
        self._server: FunctionsHttpServer | None = None
        self._invoker: Invoker | None = None
        self._clients: QueueClients | None = None
        self._blobs: BlobServiceClient | None = None
        self.host_id = ""
        self._previous_cwd: str | None = None
        self._started_at = time.monotonic()
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        settings_path = Path(self._settings_file or DEFAULT_SETTINGS_FILE)
        settings_path = settings_path if settings_path.is_absolute() else self.app_dir / settings_path
        if self._settings_file is not None and not settings_path.is_file():
            raise SettingsFileError(f"settings file {settings_path} not found")
        local = read_local_settings(settings_path)
        port = self._requested_port if self._requested_port is not None else (local.local_http_port or DEFAULT_PORT)
        self._server = FunctionsHttpServer(self.host, port)
        try:
            self._load(local.as_settings())
        except BaseException:
            self._server.stop()
            self._restore_cwd()
            raise
        self._invoker_started()
        cors = CorsPolicy.from_setting(local.cors, local.cors_credentials)
        self._server.start(HttpFrontEnd(self._routes, self, self.keys, cors))
        self._started = True

    def _load(self, settings: dict[str, str | None]) -> None:
        os.environ.update(self._env)
        self.warnings += apply_settings(
            {
                **settings,
                "WEBSITE_HOSTNAME": f"{self.display_host}:{self.port}",
                "AzureWebJobsScriptRoot": str(self.app_dir),
                "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
            }
        )
        if self._chdir:
            self._previous_cwd = os.getcwd()
            os.chdir(self.app_dir)
        self.config = load_host_config(self.app_dir)
        specs = discover_functions(self.app_dir)
        allowed = self._only or ([f.lower() for f in self.config.functions] if self.config.functions else None)
        if allowed:
            specs = [s for s in specs if s.name.lower() in allowed]
        self._clients = QueueClients()
        self.host_id = host_id(self.app_dir)
        self._blobs = blob_service()
        outputs = QueueOutputSink(self._clients, self.config.queues, self._notify_queue)
        self._invoker = Invoker(outputs, str(self.app_dir))
        self._routes = RouteTable(self.config.route_prefix)
        for spec in specs:
            try:
                self._register(spec)
            except _FUNCTION_ERRORS as err:
                self.errors.append(f"The '{spec.name}' function is in error: {err}")
        if self._enable_auth or keys_enabled(os.environ):
            self.keys = self._function_keys()
        if self._needs_storage() and not _storage_configured(os.environ):
            self.warnings.append(
                "AzureWebJobsStorage is not set; Core Tools would refuse to start an app with non-HTTP triggers"
            )

    def _function_keys(self) -> FunctionKeys:
        """Keys from LOCAL_HOST_KEYS_DIR (relative to the app folder), default .data/keys."""
        folder = Path(os.environ.get(KEYS_DIR_SETTING) or DEFAULT_KEYS_DIR)
        keys = FunctionKeys(folder if folder.is_absolute() else self.app_dir / folder)
        keys.ensure()
        self.warnings.append(f"Function keys are enforced; keys in {keys.folder / HOST_KEYS_FILE}")
        return keys

    def _register(self, spec: FunctionSpec) -> None:
        loaded = LoadedFunction(spec, _is_disabled(spec.name))
        trigger = spec.trigger
        if spec.trigger_type == HTTP_TRIGGER:
            loaded.route = resolve_setting_expressions(str(trigger.get("route") or spec.name))
            required_level(trigger.get("authLevel"))  # an unknown level is a function error, as in the host
            RouteTemplate.parse(loaded.route)  # the host indexes disabled functions too, errors and all
            if not loaded.disabled:
                self._routes.add(loaded.route, trigger.get("methods"), spec)
        elif spec.trigger_type == TIMER_TRIGGER:
            schedule = parse_schedule(resolve_setting_expressions(str(trigger.get("schedule", ""))))
            lock, monitor = self._timer_singleton(spec.name)
            self._timers[spec.name.lower()] = TimerRunner(
                spec, schedule, self._invoker_or_fail(), lock, monitor,
                self.config.singleton.listener_lock_recovery_polling_interval, bool(trigger.get("runOnStartup")),
            )  # fmt: skip
        elif spec.trigger_type == QUEUE_TRIGGER:
            queue_name = resolve_setting_expressions(str(trigger.get("queueName", ""))).lower()
            if not _QUEUE_NAME.match(queue_name):
                raise ValueError(f"'{queue_name}' is not a valid queue name")
            if not loaded.disabled:
                clients = self._clients
                assert clients is not None
                connection = trigger.get("connection")
                poison = poison_queue_name(queue_name)
                self._listeners[spec.name.lower()] = QueueListener(
                    spec,
                    clients.queue(connection, queue_name),
                    clients.queue(connection, poison) if poison else None,
                    self.config.queues,
                    self._invoker_or_fail(),
                    self._notify_queue,
                )
        else:
            self.warnings.append(
                f"Functions.{spec.name}: {spec.trigger_type} is not supported locally; "
                "it runs only via the admin endpoint"
            )
        for binding in spec.unsupported_bindings():
            self.warnings.append(
                f"Functions.{spec.name}: the {binding.type!r} binding {binding.name!r} is not supported locally"
                + (" (the parameter receives None)" if not binding.is_output else " (its value is dropped)")
            )
        self.functions.append(loaded)
        self._by_name[spec.name.lower()] = loaded

    def _timer_singleton(self, name: str) -> tuple[TimerLock, ScheduleMonitor]:
        """The listener lock and schedule status of one timer: in the storage account, shared by
        every instance with this host id, or (no blob endpoint) in this process only."""
        if self._blobs is None:
            if not any("in this process only" in w for w in self.warnings):
                self.warnings.append(
                    "AzureWebJobsStorage has no blob endpoint: timers are singletons in this process only"
                )
            return ProcessLock(), MemoryScheduleMonitor()
        function = f"Host.Functions.{name}"  # the host's full function name (a guess for Python apps)
        lock = BlobLeaseLock(self._blobs, f"locks/{self.host_id}/{function}.Listener",
                             self.config.singleton.listener_lock_period)  # fmt: skip
        return lock, BlobScheduleMonitor(self._blobs, f"timers/{self.host_id}/{function}/status")

    def _invoker_or_fail(self) -> Invoker:
        assert self._invoker is not None
        return self._invoker

    def _invoker_started(self) -> None:
        self._invoker_or_fail().start()
        for name, runner in self._timers.items():
            if not self._by_name[name].disabled:
                runner.start()
        for listener in self._listeners.values():
            listener.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting requests, stop timers and pollers, let running invocations finish."""
        if not self._started:
            return
        self._started = False
        deadline = time.monotonic() + timeout
        if self._server:
            self._server.stop()
        workers: list[TimerRunner | QueueListener] = [*self._timers.values(), *self._listeners.values()]
        for worker in workers:
            worker.request_stop()
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        if self._invoker:
            self._invoker.stop()
        if self._clients:
            self._clients.close()
        if self._blobs:
            self._blobs.close()
        self._restore_cwd()

    def _restore_cwd(self) -> None:
        if self._previous_cwd:
            os.chdir(self._previous_cwd)
            self._previous_cwd = None

    def __enter__(self) -> LocalHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the HTTP front end asks ------------------------------------------------------

    def invoke(self, function: FunctionSpec, trigger_value: Any, reason: str) -> InvocationResult:
        return self._invoker_or_fail().invoke(function, trigger_value, reason)

    def start_admin_run(self, name: str, input_text: str | None) -> bool:
        loaded = self._by_name.get(name.lower())
        if loaded is None:
            return False
        threading.Thread(target=self._admin_run, args=(loaded, input_text), name=f"admin-{name}", daemon=True).start()
        return True

    def _admin_run(self, loaded: LoadedFunction, text: str | None) -> None:
        spec = loaded.spec
        body = (text or "").encode("utf-8")
        if spec.trigger_type == TIMER_TRIGGER:
            self._timers[spec.name.lower()].run_now(ADMIN_REASON)
            return
        if spec.trigger_type == QUEUE_TRIGGER:
            message = trigger_message(body, dequeue_count=0)
            value: Any = trigger_argument(message, spec.annotations.get(spec.trigger.name))
        elif spec.trigger_type == HTTP_TRIGGER:
            url = self.function_url(loaded)
            value = func.HttpRequest("POST", url, headers={}, params={}, route_params={}, body=body)
        else:
            value = text
        self.invoke(spec, value, ADMIN_REASON)

    def describe(self) -> dict[str, Any]:
        return {
            "status": {
                "id": "devtools-local-host",
                "state": "Running" if self._started else "Stopped",
                "version": "devtools.local_host",
                "processUptime": int((time.monotonic() - self._started_at) * 1000),
            },
            "functions": [
                {
                    "name": f.spec.name,
                    "isDisabled": f.disabled,
                    "config": {"bindings": [dict(b.properties) for b in f.spec.bindings]},
                    **({"invoke_url_template": self.function_url(f)} if f.route is not None else {}),
                }
                for f in self.functions
            ],
        }

    def _notify_queue(self, queue_name: str) -> None:
        for listener in self._listeners.values():
            if listener.queue_name == queue_name:
                listener.notify()

    def _needs_storage(self) -> bool:
        return any(f.spec.trigger_type != HTTP_TRIGGER for f in self.functions)

    # -- presentation ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the host has not been started")
        return self._server.port

    @property
    def display_host(self) -> str:
        return "localhost" if self.host in ("", "0.0.0.0", "::") else self.host

    @property
    def url(self) -> str:
        return f"http://{self.display_host}:{self.port}"

    def function_url(self, loaded: LoadedFunction) -> str:
        prefix = f"{self.config.route_prefix}/" if self.config.route_prefix else ""
        return f"{self.url}/{prefix}{loaded.route}"

    def banner(self) -> str:
        """The function list as Core Tools prints it (HTTP first, then others, then disabled)."""
        enabled = [f for f in self.functions if not f.disabled]
        lines: list[str] = []
        if enabled:
            lines += ["", "Functions:", ""]
        for f in enabled:
            if f.spec.is_http:
                methods = f.spec.trigger.get("methods")
                shown = "[" + ",".join(str(m).upper() for m in methods) + "]" if methods else ""
                lines += [f"\t{f.spec.name}: {shown} {self.function_url(f)}", ""]
        for f in enabled:
            if not f.spec.is_http:
                lines += [f"\t{f.spec.name}: {f.spec.trigger_type}", ""]
        lines += [f"Function {f.spec.name} is disabled." for f in self.functions if f.disabled]
        if not self.functions:
            lines.append("No job functions found.")
        return "\n".join(lines)
