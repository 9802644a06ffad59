"""In-memory Key Vault secrets (shared.ports.SecretStore), with Key Vault's rules: versions are
never rewritten, names ignore case, "updated" has whole seconds, reading a disabled version is
refused (403), and listing the versions of an unknown name lists nothing."""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from shared.clock import utcnow
from shared.errors import DependencyError, NotFound
from shared.vault import VAULT_UNREACHABLE, SecretVersion
from tests.fakes.hooks import Hooks

SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


@dataclass
class _Secret:
    name: str  # the spelling it was first created with
    versions: list[SecretVersion]  # oldest first


class FakeVault:
    def __init__(
        self,
        url: str = "https://fake.vault.azure.net",
        *,
        clock: Callable[[], datetime] = utcnow,
        hooks: Hooks | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self.clock = clock
        self.hooks = hooks or Hooks()
        self.secrets: dict[str, _Secret] = {}
        self.down = False  # set by a test: every call raises DependencyError, like an outage
        self.absent = False  # set by a test: no Key Vault at this URL (no such name, nothing listening)

    @property
    def url(self) -> str:
        return self._url

    def set_secret(
        self,
        name: str,
        value: str,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        not_before: datetime | None = None,
        expires_on: datetime | None = None,
    ) -> SecretVersion:
        self.hooks.fire("before:vault.set_secret", name)
        self._check_up(f"writing secret {name}")
        if not SECRET_NAME.fullmatch(name):
            raise DependencyError(f"Key Vault failed writing secret {name} (HTTP 400): the name is invalid")
        now = self.clock().replace(microsecond=0)
        secret = self.secrets.setdefault(name.lower(), _Secret(name, []))
        version = uuid.uuid4().hex
        written = SecretVersion(
            name=secret.name,
            version=version,
            id=f"{self._url}/secrets/{secret.name}/{version}",
            content_type=content_type,
            enabled=True,
            updated_on=now,
            created_on=now,
            tags=dict(tags or {}),
            value=value,
        )
        secret.versions.append(written)
        self.hooks.fire("after:vault.set_secret", name, written)
        return written

    def get_secret(self, name: str, version: str | None = None) -> SecretVersion:
        self.hooks.fire("before:vault.get_secret", name, version)
        self._check_up(f"reading secret {name}")
        secret = self.secrets.get(name.lower())
        versions = secret.versions if secret else []
        found = versions[-1] if versions and version is None else None
        if version is not None:
            found = next((v for v in versions if v.version == version.lower()), None)
        if found is None:
            what = f"version {version} of secret {name}" if version else f"secret {name}"
            raise NotFound(f"{what} was not found in Key Vault", code="SecretNotFound")
        if not found.enabled:
            raise DependencyError(
                f"secret {name} cannot be read: Operation get is not allowed on a disabled secret.",
                code="SecretForbidden",
            )
        return found

    def list_secrets(self) -> Iterator[SecretVersion]:
        self._check_up("listing secrets")
        for key in sorted(self.secrets):
            yield replace(self.secrets[key].versions[-1], value=None)

    def list_versions(self, name: str) -> Iterator[SecretVersion]:
        self._check_up(f"listing versions of secret {name}")
        secret = self.secrets.get(name.lower())
        for version in secret.versions if secret else []:
            yield replace(version, value=None)

    def set_enabled(self, name: str, version: str, enabled: bool) -> None:
        """What a person does in the portal (update_secret_properties); not part of the port."""
        secret = self.secrets[name.lower()]
        now = self.clock().replace(microsecond=0)
        secret.versions = [
            replace(v, enabled=enabled, updated_on=now) if v.version == version else v for v in secret.versions
        ]

    def close(self) -> None:
        pass

    def _check_up(self, doing: str) -> None:
        if self.absent:
            raise DependencyError(f"no Key Vault answers at {self.url}", code=VAULT_UNREACHABLE)
        if self.down:
            raise DependencyError(f"Key Vault unreachable while {doing}: ServiceRequestError")
