"""App settings the way Core Tools provides them: local.settings.json `Values` become environment
variables, but a variable already set (non-empty) in the environment wins.

That precedence is Core Tools' own (StartHostAction.UpdateEnvironmentVariables prints "Skipping
'X' from local settings as it's already defined in current environment variables."), so
`FOO=1 python -m devtools.local_host` overrides local.settings.json exactly as `FOO=1 func start`.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path


class SettingsFileError(ValueError):
    """local.settings.json cannot be used; the host refuses to start, as Core Tools does."""


class UnresolvedSettingError(ValueError):
    """A `%NAME%` binding expression names an app setting that is not set."""


@dataclass(frozen=True)
class LocalSettings:
    """What local.settings.json holds that the host uses."""

    values: dict[str, str | None] = field(default_factory=dict)
    connection_strings: dict[str, str] = field(default_factory=dict)
    local_http_port: int | None = None
    cors: str | None = None  # Host.CORS: comma-separated origins or "*"
    cors_credentials: bool = False  # Host.CORSCredentials

    def as_settings(self) -> dict[str, str | None]:
        """Values plus `ConnectionStrings:<name>` entries, the keys Core Tools exports."""
        merged = dict(self.values)
        merged.update({f"ConnectionStrings:{k}": v for k, v in self.connection_strings.items()})
        return merged


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)  # numbers and booleans: keep their JSON spelling ("true", "5")


def read_local_settings(path: Path) -> LocalSettings:
    """Parse the file; a missing file is an empty one (Core Tools starts without it too)."""
    if not path.is_file():
        return LocalSettings()
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig") or "{}")
    except json.JSONDecodeError as err:
        raise SettingsFileError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise SettingsFileError(f"{path} must hold a JSON object")
    if data.get("IsEncrypted") is True:
        raise SettingsFileError(f"{path} is encrypted; decrypt it with `func settings decrypt` first")
    values = data.get("Values") or {}
    strings = data.get("ConnectionStrings") or {}
    if not isinstance(values, dict) or not isinstance(strings, dict):
        raise SettingsFileError(f"{path}: 'Values' and 'ConnectionStrings' must be JSON objects")
    host = data.get("Host") or {}
    if not isinstance(host, dict):
        raise SettingsFileError(f"{path}: 'Host' must be a JSON object")
    port = host.get("LocalHttpPort")
    cors = host.get("CORS")
    connection_strings = {}
    for name, entry in strings.items():
        # Core Tools accepts both "name": "conn" and "name": {"ConnectionString": "conn", ...}.
        text = entry.get("ConnectionString") if isinstance(entry, dict) else entry
        if isinstance(text, str):
            connection_strings[name] = text
    return LocalSettings(
        values={str(k): _as_text(v) for k, v in values.items()},
        connection_strings=connection_strings,
        local_http_port=int(port) if port not in (None, "") else None,
        cors=cors if isinstance(cors, str) and cors.strip() else None,
        cors_credentials=host.get("CORSCredentials") in (True, "true", "True"),
    )


def apply_settings(settings: dict[str, str | None], environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Export settings into the environment unless already set; returns Core Tools' warnings."""
    environ = os.environ if environ is None else environ
    warnings = []
    for key, value in settings.items():
        if not key:
            warnings.append("Skipping local setting with empty key.")
        elif environ.get(key):
            warnings.append(
                f"Skipping '{key}' from local settings as it's already defined in current environment variables."
            )
        elif value is None:
            warnings.append(f"Skipping '{key}' because value is null")
        else:
            environ[key] = value
    return warnings


_EXPRESSION = re.compile(r"%([^%]+)%")


def resolve_setting_expressions(text: str, environ: MutableMapping[str, str] | None = None) -> str:
    """Replace `%NAME%` with the app setting's value, as the host does for binding properties."""
    environ = os.environ if environ is None else environ

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        value = environ.get(name)
        if value is None:
            raise UnresolvedSettingError(f"'%{name}%' does not resolve to a value (app setting {name} is not set)")
        return value

    return _EXPRESSION.sub(lookup, text)
