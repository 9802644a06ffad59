"""Function keys, checked as the Functions host checks them; off unless switched on (like Core
Tools, which enforces them only with `func start --enableAuth`).

Keys live in files shaped like the host's file secret storage (`AzureWebJobsSecretStorageType=files`):
`host.json` with `masterKey` and `functionKeys`, and optional `<function>.json` with `keys`, each
key `{"name", "value", "encrypted": false}`. A missing `host.json` is created with random keys.
The caller's key is the `x-functions-key` header, else the `code` query parameter (the header wins);
the master key has admin level, host function keys and the function's own keys function level.
Anonymous functions need nothing; a missing or wrong key is 401 with an empty body, as in Azure.
"""
from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from urllib.parse import parse_qsl

ENABLE_SETTING = "LOCAL_HOST_ENABLE_AUTH"
KEYS_DIR_SETTING = "LOCAL_HOST_KEYS_DIR"
DEFAULT_KEYS_DIR = ".data/keys"
KEY_HEADER = "x-functions-key"
HOST_KEYS_FILE = "host.json"


class AuthLevel(IntEnum):
    """The host's AuthorizationLevel order: a key of a higher level opens lower-level functions."""

    ANONYMOUS = 0
    FUNCTION = 1
    ADMIN = 4


class KeysFileError(ValueError):
    """A keys file the host could not use."""


def required_level(auth_level: object) -> AuthLevel:
    """An httpTrigger's `authLevel` (the worker sends FUNCTION, ANONYMOUS or ADMIN; default function)."""
    name = str(auth_level or "function").upper()
    if name not in AuthLevel.__members__:
        raise ValueError(f"authLevel {auth_level!r} is not anonymous, function or admin")
    return AuthLevel[name]


def presented_key(headers: Iterable[tuple[str, str]], query: str) -> str | None:
    """The `x-functions-key` header (first value), else the first `code` query parameter."""
    for name, value in headers:
        if name.lower() == KEY_HEADER:
            return value
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "code":
            return value
    return None


def keys_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get(ENABLE_SETTING, "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class _Snapshot:
    stamp: tuple[int, ...]  # (mtime, size) of every file: a change means re-read
    master: str
    host_function_keys: tuple[str, ...]
    function_keys: Mapping[str, tuple[str, ...]]  # lowercased function name -> its own keys


class FunctionKeys:
    """The keys in one folder; files are re-read when they change, so a key can be revoked."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    def ensure(self) -> None:
        """Create host.json with a random master key and default function key when there is none."""
        path = self.folder / HOST_KEYS_FILE
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_host_keys(self.folder, master=_new_key(), function_keys={"default": _new_key()})
        self._load()

    def level_of(self, key: str | None, function_name: str | None) -> AuthLevel:
        if not key:
            return AuthLevel.ANONYMOUS
        snapshot = self._load()
        if _matches(key, (snapshot.master,)):
            return AuthLevel.ADMIN
        own = snapshot.function_keys.get(function_name.lower(), ()) if function_name else ()
        if _matches(key, [*snapshot.host_function_keys, *own]):
            return AuthLevel.FUNCTION
        return AuthLevel.ANONYMOUS

    def allows(self, required: AuthLevel, key: str | None, function_name: str | None) -> bool:
        return required == AuthLevel.ANONYMOUS or self.level_of(key, function_name) >= required

    def _load(self) -> _Snapshot:
        files = sorted(self.folder.glob("*.json"))
        try:
            stamp = tuple(value for f in files for value in (f.stat().st_mtime_ns, f.stat().st_size))
        except OSError as err:
            raise KeysFileError(f"{self.folder}: {err}") from None
        with self._lock:
            if self._snapshot is None or self._snapshot.stamp != stamp:
                self._snapshot = _read(self.folder, files, stamp)
            return self._snapshot


def write_host_keys(folder: Path, *, master: str, function_keys: Mapping[str, str]) -> Path:
    """Write host.json in the host's file format (tests use it to set known keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "masterKey": _entry("master", master),
        "functionKeys": [_entry(name, value) for name, value in function_keys.items()],
        "systemKeys": [],
    }
    path = folder / HOST_KEYS_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2))
    os.chmod(temporary, 0o600)
    temporary.replace(path)
    return path


def _entry(name: str, value: str) -> dict[str, object]:
    return {"name": name, "value": value, "encrypted": False}


def _new_key() -> str:
    return secrets.token_urlsafe(40)


def _matches(key: str, candidates: Iterable[str]) -> bool:
    presented = key.encode("utf-8", "surrogateescape")
    found = False
    for candidate in candidates:  # every comparison runs: no early exit that times the key
        found |= hmac.compare_digest(presented, candidate.encode("utf-8"))
    return found


def _read(folder: Path, files: list[Path], stamp: tuple[int, ...]) -> _Snapshot:
    host = _document(folder / HOST_KEYS_FILE)
    master = host.get("masterKey")
    if not isinstance(master, dict):
        raise KeysFileError(f"{folder / HOST_KEYS_FILE}: masterKey is missing")
    own = {f.stem.lower(): _values(_document(f).get("keys"), f) for f in files if f.name != HOST_KEYS_FILE}
    return _Snapshot(
        stamp=stamp,
        master=_value(master, folder / HOST_KEYS_FILE),
        host_function_keys=_values(host.get("functionKeys"), folder / HOST_KEYS_FILE),
        function_keys=own,
    )


def _document(path: Path) -> dict[str, object]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise KeysFileError(f"{path}: {err}") from None
    if not isinstance(document, dict):
        raise KeysFileError(f"{path}: not a JSON object")
    return document


def _values(entries: object, path: Path) -> tuple[str, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise KeysFileError(f"{path}: keys must be a list")
    return tuple(_value(entry, path) for entry in entries)


def _value(entry: object, path: Path) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), str) or not entry["value"]:
        raise KeysFileError(f"{path}: every key needs a non-empty string value")
    if entry.get("encrypted"):
        raise KeysFileError(f"{path}: encrypted keys are not supported locally")
    return str(entry["value"])
