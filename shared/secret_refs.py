"""Key Vault secret references: parse secret ids and resolve a secret's current certificate.

A link's current certificate is the latest *enabled* version of its secret.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlparse

from shared import pki
from shared.errors import BadRequest, DependencyError, NotFound
from shared.model import Certificate, RevokedVersion
from shared.ports import SecretStore
from shared.vault import PFX_CONTENT_TYPE, SecretVersion
from shared.vault_hosts import KEY_VAULT_SUFFIXES, InvalidHost, canonical_host, is_loopback

_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_VERSION = re.compile(r"^[0-9a-zA-Z]{1,64}$")


@dataclass(frozen=True)
class SecretRef:
    vault_url: str  # scheme://host[:port]
    name: str
    version: str | None = None

    @property
    def id(self) -> str:
        """The versionless id a link stores: it follows the latest version."""
        return f"{self.vault_url}/secrets/{self.name}"


@dataclass(frozen=True)
class CurrentCertificate:
    version: SecretVersion
    bundle: pki.CertificateBundle
    fell_back: bool = False  # the latest version is disabled: this is the newest enabled one
    revoked: RevokedVersion | None = None  # its revocation, as the owning certificate records it
    revocation_checked: bool = False  # `revoked` was read from the owning certificate

    @property
    def thumbprint(self) -> str:
        return self.bundle.thumbprint


def parse_secret_id(raw: object) -> SecretRef:
    if not isinstance(raw, str) or len(raw) > 2048:
        raise BadRequest("keyVaultSecretId must be a Key Vault secret URL", code="InvalidSecretId")
    try:
        parsed = urlparse(raw.strip())
        host, port = parsed.hostname or "", parsed.port  # .port raises ValueError when out of range
    except ValueError:
        raise BadRequest("keyVaultSecretId is not a valid URL", code="InvalidSecretId") from None
    parts = [p for p in parsed.path.split("/") if p]
    try:
        host = canonical_host(host)
    except InvalidHost as err:
        raise BadRequest(f"keyVaultSecretId does not name a vault host: {err}", code="InvalidSecretId") from None
    if parsed.username or parsed.password or parsed.query or parsed.fragment:
        raise BadRequest(
            "keyVaultSecretId must not carry a user name, password, query or fragment", code="InvalidSecretId"
        )
    if parsed.scheme != "https" or len(parts) not in (2, 3) or parts[0] != "secrets":
        raise BadRequest(
            "keyVaultSecretId must look like https://<vault>.vault.azure.net/secrets/<name>[/<version>]",
            code="InvalidSecretId",
        )
    if not _NAME.fullmatch(parts[1]) or (len(parts) == 3 and not _VERSION.fullmatch(parts[2])):
        raise BadRequest("keyVaultSecretId has an invalid secret name or version", code="InvalidSecretId")
    # One spelling per secret: the canonical host, no default port, and Key Vault ignores case in names.
    netloc = host if port in (None, 443) else f"{host}:{port}"
    return SecretRef(f"https://{netloc}", parts[1].lower(), parts[2].lower() if len(parts) == 3 else None)


def certificate_secret(default_vault_url: str, cert: Certificate) -> SecretRef:
    """The normalised reference of a certificate's own secret (what its links store), in the
    vault the certificate named at creation (rows without one: the default vault)."""
    vault_url = cert.vault or default_vault_url
    return parse_secret_id(f"{vault_url.rstrip('/')}/secrets/{cert.secret_name}")


def current_certificate(vault: SecretStore, name: str) -> CurrentCertificate:
    """Fetch and parse the latest enabled version; errors name the secret, never its value."""
    version, fell_back = latest_enabled(vault, name)
    return parse_version(version, fell_back)


def certificate_at(vault: SecretStore, name: str, version: str) -> CurrentCertificate:
    """A specific version, e.g. the one a link holds."""
    return parse_version(vault.get_secret(name, version))


def parse_version(version: SecretVersion, fell_back: bool = False) -> CurrentCertificate:
    name = version.name
    if version.content_type and version.content_type != PFX_CONTENT_TYPE:
        raise BadRequest(
            f"secret {name} has content type {version.content_type!r}, not {PFX_CONTENT_TYPE}",
            code="WrongContentType",
        )
    try:
        bundle = pki.parse_pfx_base64(version.value or "")
    except BadRequest as err:
        raise BadRequest(
            f"secret {name} version {version.version} is not a usable PFX: {err.message}", code="InvalidPfx"
        ) from None
    return CurrentCertificate(version=version, bundle=bundle, fell_back=fell_back)


def latest_enabled(vault: SecretStore, name: str) -> tuple[SecretVersion, bool]:
    """The latest enabled version, and whether the latest one is disabled (a fallback)."""
    try:
        return vault.get_secret(name), False
    except DependencyError as err:
        if err.code != "SecretForbidden":
            raise
    # The latest version is disabled: fall back to the newest enabled one.
    enabled = [v for v in vault.list_versions(name) if v.enabled]
    if not enabled:
        raise NotFound(f"secret {name} has no enabled version", code="SecretDisabled")
    # Newest by creation: editing an old version's tags changes its "updated", not its age.
    newest = max(enabled, key=lambda v: v.created_on or v.updated_on or datetime.min.replace(tzinfo=UTC))
    return vault.get_secret(name, newest.version), True


def check_vault_host(ref: SecretRef, local_emulator: bool) -> None:
    """Only real Key Vault hosts (or, for local development, loopback emulators) are ever called
    with our credential: a link must not turn certsync into a client of arbitrary servers."""
    parsed = urlparse(ref.vault_url)
    host = parsed.hostname or ""
    if local_emulator and is_loopback(host):
        return
    if host.endswith(KEY_VAULT_SUFFIXES) and parsed.port not in (None, 443):
        # Key Vault serves HTTPS on 443 only; any other port could only be probed, never used.
        raise BadRequest("an Azure Key Vault is reached on port 443 only", code="InvalidSecretId")
    if not host.endswith(KEY_VAULT_SUFFIXES):
        raise BadRequest(
            f"keyVaultSecretId must point at an Azure Key Vault ({', '.join('*' + s for s in KEY_VAULT_SUFFIXES)})",
            code="InvalidSecretId",
        )
