"""host.json settings the local host honours, with the real host's defaults and validation.

Keys are matched case-insensitively and `AzureFunctionsJobHost__a__b` environment variables
override host.json, both as in the Functions host's configuration system.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from devtools.local_host.timespan import TimeSpanError, parse_timespan

OVERRIDE_PREFIX = "AzureFunctionsJobHost__"
MIN_POLLING_INTERVAL = timedelta(milliseconds=100)  # QueuePollingIntervals.Minimum


class HostConfigError(ValueError):
    """host.json holds a value the host would reject at start."""


@dataclass(frozen=True)
class QueueOptions:
    """extensions.queues, defaults from the Storage Queues extension's QueuesOptions."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: timedelta = timedelta(minutes=1)
    visibility_timeout: timedelta = timedelta(0)
    max_dequeue_count: int = 5
    message_encoding: str = "base64"  # or "none"

    @property
    def max_concurrency(self) -> int:
        """At most BatchSize + NewBatchThreshold messages run at once (the extension's rule)."""
        return self.batch_size + self.new_batch_threshold


@dataclass(frozen=True)
class SingletonOptions:
    """host.json `singleton`, defaults from the WebJobs SDK's SingletonOptions: a timer's
    listener lock is a blob lease of `listener_lock_period` (a blob lease lasts 15-60 s), and
    an instance without it tries again every `listener_lock_recovery_polling_interval`."""

    listener_lock_period: timedelta = timedelta(seconds=60)
    listener_lock_recovery_polling_interval: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    queues: QueueOptions = field(default_factory=QueueOptions)
    singleton: SingletonOptions = field(default_factory=SingletonOptions)
    functions: tuple[str, ...] | None = None  # host.json "functions": run only these


def _child(node: Any, key: str) -> Any:
    if not isinstance(node, dict):
        return None
    for name, value in node.items():
        if name.lower() == key.lower():
            return value
    return None


def _set_path(root: dict[str, Any], path: list[str], value: str) -> None:
    node = root
    for key in path[:-1]:
        existing = next((k for k in node if k.lower() == key.lower()), key)
        if not isinstance(node.get(existing), dict):
            node[existing] = {}
        node = node[existing]
    leaf = next((k for k in node if k.lower() == path[-1].lower()), path[-1])
    node[leaf] = value


def apply_environment_overrides(document: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """`AzureFunctionsJobHost__extensions__queues__batchSize=4` beats host.json, as in Azure."""
    merged = json.loads(json.dumps(document))
    for name, value in environ.items():
        if name.startswith(OVERRIDE_PREFIX) and len(name) > len(OVERRIDE_PREFIX):
            path = name[len(OVERRIDE_PREFIX):].split("__")
            if all(path):
                _set_path(merged, path, value)
    return merged


def _integer(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise HostConfigError(f"host.json {name} must be an integer, not {value!r}") from None
    if not low <= number <= high:
        raise HostConfigError(f"host.json {name} must be between {low} and {high}, not {number}")
    return number


def _duration(value: Any, name: str) -> timedelta:
    try:
        return parse_timespan(value)
    except TimeSpanError as err:
        raise HostConfigError(f"host.json {name}: {err}") from None


def _queue_options(node: Any) -> QueueOptions:
    defaults = QueueOptions()
    batch_size = defaults.batch_size
    if _child(node, "batchSize") is not None:
        batch_size = _integer(_child(node, "batchSize"), "extensions.queues.batchSize", 1, 32)
    threshold_value = _child(node, "newBatchThreshold")
    if threshold_value is None:
        threshold = (batch_size // 2) * (os.cpu_count() or 1)
    else:
        threshold = _integer(threshold_value, "extensions.queues.newBatchThreshold", 0, 10_000)
    polling = defaults.max_polling_interval
    if _child(node, "maxPollingInterval") is not None:
        polling = _duration(_child(node, "maxPollingInterval"), "extensions.queues.maxPollingInterval")
        if polling < MIN_POLLING_INTERVAL:
            raise HostConfigError("host.json extensions.queues.maxPollingInterval must not be less than 00:00:00.1")
    visibility = defaults.visibility_timeout
    if _child(node, "visibilityTimeout") is not None:
        visibility = _duration(_child(node, "visibilityTimeout"), "extensions.queues.visibilityTimeout")
    dequeue = defaults.max_dequeue_count
    if _child(node, "maxDequeueCount") is not None:
        dequeue = _integer(_child(node, "maxDequeueCount"), "extensions.queues.maxDequeueCount", 1, 10_000)
    encoding = str(_child(node, "messageEncoding") or defaults.message_encoding).lower()
    if encoding not in ("base64", "none"):
        raise HostConfigError(
            f"host.json extensions.queues.messageEncoding must be 'base64' or 'none', not {encoding!r}"
        )
    return QueueOptions(batch_size, threshold, polling, visibility, dequeue, encoding)


def _singleton_options(node: Any) -> SingletonOptions:
    defaults = SingletonOptions()
    period = defaults.listener_lock_period
    if _child(node, "listenerLockPeriod") is not None:
        period = _duration(_child(node, "listenerLockPeriod"), "singleton.listenerLockPeriod")
        if not timedelta(seconds=15) <= period <= timedelta(seconds=60):
            raise HostConfigError("host.json singleton.listenerLockPeriod must be between 00:00:15 and 00:01:00")
    recovery = defaults.listener_lock_recovery_polling_interval
    if _child(node, "listenerLockRecoveryPollingInterval") is not None:
        recovery = _duration(
            _child(node, "listenerLockRecoveryPollingInterval"), "singleton.listenerLockRecoveryPollingInterval"
        )
        if recovery < MIN_POLLING_INTERVAL:
            raise HostConfigError("host.json singleton.listenerLockRecoveryPollingInterval must be at least 00:00:00.1")
    return SingletonOptions(period, recovery)


def parse_host_config(document: dict[str, Any]) -> HostConfig:
    extensions = _child(document, "extensions")
    http = _child(extensions, "http")
    prefix = _child(http, "routePrefix")
    functions = _child(document, "functions")
    if isinstance(functions, dict):  # from AzureFunctionsJobHost__functions__0=name overrides
        functions = [functions[k] for k in sorted(functions, key=lambda k: int(k) if k.isdigit() else 0)]
    return HostConfig(
        route_prefix="api" if prefix is None else str(prefix).strip("/"),
        queues=_queue_options(_child(extensions, "queues")),
        singleton=_singleton_options(_child(document, "singleton")),
        functions=tuple(str(f) for f in functions) if isinstance(functions, list) else None,
    )


def load_host_config(app_dir: Path, environ: Mapping[str, str] | None = None) -> HostConfig:
    """Read `<app_dir>/host.json` (optional) and apply environment overrides."""
    environ = os.environ if environ is None else environ
    path = app_dir / "host.json"
    document: dict[str, Any] = {}
    if path.is_file():
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig") or "{}")
        except json.JSONDecodeError as err:
            raise HostConfigError(f"{path} is not valid JSON: {err}") from None
        if not isinstance(document, dict):
            raise HostConfigError(f"{path} must hold a JSON object")
    return parse_host_config(apply_environment_overrides(document, environ))
