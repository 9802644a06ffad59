"""The vault's secrets and the rules Key Vault applies to them, free of HTTP.

Records are immutable and replaced on change, so callers can render what they got back
without holding the lock. Names are case-insensitive, as in Key Vault, and keep the
spelling they were first created with.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from devtools.kv_emulator.errors import Conflict, Forbidden, SecretNotFound
from devtools.kv_emulator.protocol import RECOVERABLE_DAYS

_DAY = 24 * 3600


class _Unset:
    """Marks an update field the caller did not send (distinct from an explicit null)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclass(frozen=True)
class SecretVersion:
    version: str
    value: str = field(repr=False)
    content_type: str | None
    tags: dict[str, str] | None
    enabled: bool
    not_before: int | None
    expires: int | None
    created: int
    updated: int


@dataclass(frozen=True)
class Secret:
    """All versions of one name, oldest first; deleted_on is set while soft-deleted."""

    name: str
    versions: tuple[SecretVersion, ...]
    deleted_on: int | None = None
    purge_on: int | None = None

    @property
    def latest(self) -> SecretVersion:
        return self.versions[-1]

    @property
    def is_deleted(self) -> bool:
        return self.deleted_on is not None

    def find(self, version: str) -> SecretVersion | None:
        wanted = version.lower()
        return next((v for v in self.versions if v.version == wanted), None)


@dataclass(frozen=True)
class NewVersion:
    """What a set-secret request asks for."""

    value: str = field(repr=False)
    content_type: str | None = None
    tags: dict[str, str] | None = None
    enabled: bool = True
    not_before: int | None = None
    expires: int | None = None


@dataclass(frozen=True)
class PropertiesUpdate:
    """What an update request asks to change; UNSET fields stay as they are."""

    content_type: str | _Unset | None = UNSET
    tags: dict[str, str] | _Unset | None = UNSET
    enabled: bool | _Unset = UNSET
    not_before: int | _Unset | None = UNSET
    expires: int | _Unset | None = UNSET

    def apply(self, version: SecretVersion, now: int) -> SecretVersion:
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("content_type", self.content_type),
                ("tags", self.tags),
                ("enabled", self.enabled),
                ("not_before", self.not_before),
                ("expires", self.expires),
            )
            if value is not UNSET
        }
        return replace(version, updated=now, **changes)


class StateSink(Protocol):
    """Where the vault writes its whole state after every change (file or nowhere)."""

    def save(self, secrets: list[Secret]) -> None: ...


def _key(name: str) -> str:
    return name.lower()


class SecretVault:
    """Thread-safe store implementing the Secrets API rules (versions, soft delete, purge)."""

    def __init__(
        self,
        secrets: list[Secret] | None = None,
        *,
        sink: StateSink | None = None,
        clock: Callable[[], float],
    ) -> None:
        self._secrets: dict[str, Secret] = {_key(s.name): s for s in secrets or []}
        self._sink = sink
        self._clock = clock
        self._lock = threading.RLock()

    def _now(self) -> int:
        return int(self._clock())

    # -- reads -------------------------------------------------------------------------

    def get(self, name: str, version: str | None = None) -> tuple[Secret, SecretVersion]:
        """A version with its value; disabled versions are refused like real Key Vault."""
        secret = self._active(name, version)
        found = secret.find(version) if version else secret.latest
        if found is None:
            raise SecretNotFound.active(name, version)
        if not found.enabled:
            raise Forbidden.disabled_secret("get")
        return secret, found

    def list_secrets(self) -> list[Secret]:
        with self._lock:
            self._purge_expired()
            return sorted((s for s in self._secrets.values() if not s.is_deleted), key=lambda s: _key(s.name))

    def list_versions(self, name: str) -> list[tuple[Secret, SecretVersion]]:
        """Empty for an unknown name: Key Vault lists nothing rather than answering 404."""
        with self._lock:
            self._purge_expired()
            secret = self._secrets.get(_key(name))
            if secret is None or secret.is_deleted:
                return []
            return [(secret, v) for v in secret.versions]

    def get_deleted(self, name: str) -> Secret:
        with self._lock:
            self._purge_expired()
            secret = self._secrets.get(_key(name))
            if secret is None or not secret.is_deleted:
                raise SecretNotFound.deleted(name)
            return secret

    def list_deleted(self) -> list[Secret]:
        with self._lock:
            self._purge_expired()
            return sorted((s for s in self._secrets.values() if s.is_deleted), key=lambda s: _key(s.name))

    # -- writes ------------------------------------------------------------------------

    def set(self, name: str, new: NewVersion) -> tuple[Secret, SecretVersion]:
        """Add a version (creating the secret if needed); a soft-deleted name is not free."""
        with self._lock:
            self._purge_expired()
            now = self._now()
            existing = self._secrets.get(_key(name))
            if existing is not None and existing.is_deleted:
                raise Conflict.deleted_but_recoverable(existing.name)
            version = SecretVersion(
                version=uuid.uuid4().hex,
                value=new.value,
                content_type=new.content_type,
                tags=dict(new.tags) if new.tags is not None else None,
                enabled=new.enabled,
                not_before=new.not_before,
                expires=new.expires,
                created=now,
                updated=now,
            )
            if existing is None:
                secret = Secret(name=name, versions=(version,))
            else:
                secret = replace(existing, versions=(*existing.versions, version))
            self._store(secret)
            return secret, version

    def update(self, name: str, version: str | None, update: PropertiesUpdate) -> tuple[Secret, SecretVersion]:
        """Change a version's metadata; allowed on disabled versions (that is how you re-enable)."""
        with self._lock:
            secret = self._active(name, version)
            target = secret.find(version) if version else secret.latest
            if target is None:
                raise SecretNotFound.active(name, version)
            changed = update.apply(target, self._now())
            secret = replace(
                secret, versions=tuple(changed if v.version == target.version else v for v in secret.versions)
            )
            self._store(secret)
            return secret, changed

    def delete(self, name: str) -> Secret:
        """Soft delete: the name moves to the deleted collection for RECOVERABLE_DAYS."""
        with self._lock:
            secret = self._active(name, None)
            now = self._now()
            deleted = replace(secret, deleted_on=now, purge_on=now + RECOVERABLE_DAYS * _DAY)
            self._store(deleted)
            return deleted

    def recover(self, name: str) -> Secret:
        with self._lock:
            deleted = self.get_deleted(name)
            recovered = replace(deleted, deleted_on=None, purge_on=None)
            self._store(recovered)
            return recovered

    def purge(self, name: str) -> None:
        with self._lock:
            deleted = self.get_deleted(name)
            del self._secrets[_key(deleted.name)]
            self._save()

    def backup(self, name: str) -> Secret:
        """The secret with every version, as backupSecret saves it (active secrets only)."""
        return self._active(name, None)

    def restore(self, secret: Secret) -> Secret:
        """Bring back a backed-up secret with its versions; the name must be free (not active, not soft-deleted)."""
        with self._lock:
            self._purge_expired()
            existing = self._secrets.get(_key(secret.name))
            if existing is not None:
                raise Conflict.restore_over_existing(existing.name)
            restored = replace(secret, deleted_on=None, purge_on=None)
            self._store(restored)
            return restored

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._save()

    # -- internals ---------------------------------------------------------------------

    def _active(self, name: str, version: str | None) -> Secret:
        with self._lock:
            self._purge_expired()
            secret = self._secrets.get(_key(name))
            if secret is None or secret.is_deleted:
                raise SecretNotFound.active(name, version)
            return secret

    def _purge_expired(self) -> None:
        """Key Vault purges a soft-deleted secret by itself once its purge date passes."""
        now = self._now()
        expired = [k for k, s in self._secrets.items() if s.purge_on is not None and s.purge_on <= now]
        for key in expired:
            del self._secrets[key]
        if expired:
            self._save()

    def _store(self, secret: Secret) -> None:
        self._secrets[_key(secret.name)] = secret
        self._save()

    def _save(self) -> None:
        if self._sink is not None:
            self._sink.save(list(self._secrets.values()))
