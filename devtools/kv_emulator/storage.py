"""Persistence for --data-dir: the whole vault as one JSON file, replaced atomically.

A crash mid-write leaves the previous file intact (write to a temp file, fsync, rename).
The file holds secret values, so it is created readable by the owner only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devtools.kv_emulator.files import write_file_atomically
from devtools.kv_emulator.vault import Secret, SecretVersion

STATE_FILE_NAME = "kv-emulator-state.json"
_FORMAT = 1


class StateFileError(RuntimeError):
    """The state file exists but cannot be read back; refuse to start rather than lose it."""


class JsonStateFile:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / STATE_FILE_NAME

    def load(self) -> list[Secret]:
        if not self.path.exists():
            return []
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if document.get("format") != _FORMAT:
                raise ValueError(f"unknown format {document.get('format')!r}")
            return [decode_secret(item) for item in document["secrets"]]
        except (ValueError, KeyError, TypeError) as err:
            raise StateFileError(f"cannot read emulator state {self.path}: {err}") from None

    def save(self, secrets: list[Secret]) -> None:
        document = {"format": _FORMAT, "secrets": [encode_secret(s) for s in secrets]}
        payload = json.dumps(document, separators=(",", ":")).encode("utf-8")
        write_file_atomically(self.path, payload, mode=0o600)


def encode_secret(secret: Secret) -> dict[str, Any]:
    return {
        "name": secret.name,
        "deletedOn": secret.deleted_on,
        "purgeOn": secret.purge_on,
        "versions": [
            {
                "version": v.version,
                "value": v.value,
                "contentType": v.content_type,
                "tags": v.tags,
                "enabled": v.enabled,
                "nbf": v.not_before,
                "exp": v.expires,
                "created": v.created,
                "updated": v.updated,
            }
            for v in secret.versions
        ],
    }


def decode_secret(item: dict[str, Any]) -> Secret:
    versions = tuple(
        SecretVersion(
            version=v["version"],
            value=v["value"],
            content_type=v.get("contentType"),
            tags=v.get("tags"),
            enabled=bool(v["enabled"]),
            not_before=v.get("nbf"),
            expires=v.get("exp"),
            created=int(v["created"]),
            updated=int(v["updated"]),
        )
        for v in item["versions"]
    )
    if not versions:
        raise ValueError(f"secret {item['name']!r} has no versions")
    return Secret(name=item["name"], versions=versions, deleted_on=item.get("deletedOn"), purge_on=item.get("purgeOn"))
