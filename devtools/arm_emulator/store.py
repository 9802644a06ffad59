"""Every ARM resource the emulator holds, keyed by its lower-cased id, optionally kept on disk.

One lock guards all of it: a request reads and writes under the lock, so two racing requests
end in a state both answers describe. With --data-dir the whole store is one JSON file (mode
0600: it holds PFX bytes), replaced atomically after each change.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.kv_emulator.files import write_file_atomically

STATE_FILE_NAME = "arm-emulator-state.json"
_FORMAT = 1


class StateFileError(RuntimeError):
    """The state file exists but cannot be read back; refuse to start rather than lose it."""


@dataclass
class Resource:
    """One resource as ARM returns it (`body`), plus what ARM never returns (`pfx`, base64)."""

    body: dict[str, Any]
    pfx: str | None = None

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def type(self) -> str:
        return str(self.body["type"])

    @property
    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = self.body.setdefault("properties", {})
        return props


class ResourceStore:
    def __init__(self, data_dir: Path | None) -> None:
        self.lock = threading.RLock()
        self._path = data_dir / STATE_FILE_NAME if data_dir is not None else None
        self._items: dict[str, Resource] = {}
        self._dirty = False
        if data_dir is not None and self._path is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._items = _load(self._path)

    @contextmanager
    def transaction(self) -> Iterator[ResourceStore]:
        """Hold the lock for a whole request; save once at the end if anything changed."""
        with self.lock:
            self._dirty = False
            yield self
            if self._dirty:
                self._save()

    def get(self, resource_id: str) -> Resource | None:
        return self._items.get(resource_id.lower())

    def put(self, resource: Resource) -> None:
        self._items[resource.id.lower()] = resource
        self._dirty = True

    def touch(self) -> None:
        """A resource was changed in place."""
        self._dirty = True

    def delete_tree(self, resource_id: str) -> None:
        """Delete a resource and everything under it (child resources share its id prefix)."""
        key = resource_id.lower()
        for other in [k for k in self._items if k == key or k.startswith(key + "/")]:
            del self._items[other]
        self._dirty = True

    def subtree(self, resource_id: str) -> dict[str, Resource]:
        """Copies of a resource and everything under it, to put back with restore_subtree."""
        key = resource_id.lower()
        return {
            k: Resource(json.loads(json.dumps(r.body)), r.pfx)
            for k, r in self._items.items()
            if k == key or k.startswith(key + "/")
        }

    def restore_subtree(self, resource_id: str, saved: dict[str, Resource]) -> None:
        """Undo every change under resource_id since subtree() (a failed long-running operation)."""
        self.delete_tree(resource_id)
        self._items.update(saved)

    def children(self, parent_id: str, resource_type: str) -> list[Resource]:
        """Resources of a type directly or indirectly under parent_id, sorted by id."""
        prefix = parent_id.lower() + "/"
        wanted = resource_type.lower()
        return sorted(
            (r for k, r in self._items.items() if k.startswith(prefix) and r.type.lower() == wanted),
            key=lambda r: r.id.lower(),
        )

    def all_of_type(self, resource_type: str) -> list[Resource]:
        wanted = resource_type.lower()
        return sorted((r for r in self._items.values() if r.type.lower() == wanted), key=lambda r: r.id.lower())

    def clear(self) -> None:
        with self.lock:
            self._items = {}
            self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        document = {"format": _FORMAT, "resources": [{"body": r.body, "pfx": r.pfx} for r in self._items.values()]}
        write_file_atomically(self._path, json.dumps(document, separators=(",", ":")).encode("utf-8"), mode=0o600)


def _load(path: Path) -> dict[str, Resource]:
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != _FORMAT:
            raise ValueError(f"unknown format {document.get('format')!r}")
        items = [Resource(body=dict(item["body"]), pfx=item.get("pfx")) for item in document["resources"]]
        return {r.id.lower(): r for r in items}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise StateFileError(f"cannot read emulator state {path}: {err}") from None
