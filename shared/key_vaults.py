"""The vaults certsync is configured with: KEY_VAULT_URL (the default, home of the local CA and the
ACME account key) plus KEY_VAULT_URLS, each with its ARM resource id (KEY_VAULT_RESOURCE_ID /
KEY_VAULT_RESOURCE_IDS, in the same order) for App Service's `keyVaultId`. Pure: parsed and
validated at start by shared.settings; a certificate names one of them at creation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from shared.vault_hosts import KEY_VAULT_SUFFIXES, InvalidHost, canonical_host, is_loopback

# /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>
_VAULT_RESOURCE_ID = re.compile(
    r"^/subscriptions/[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}/resourcegroups/[-\w._()]{1,90}"
    r"/providers/microsoft\.keyvault/vaults/(?P<name>[a-z0-9-]{3,24})$"
)


class VaultSettingError(ValueError):
    """A vault URL or resource id that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class KnownVault:
    url: str  # https://host[:port] in its one spelling (lower case, no :443), as secret ids store it
    name: str  # short name: an Azure vault's name (first host label), else its resource id's last segment
    resource_id: str = ""  # its ARM id ("" when not configured: no App Service links into it)
    is_default: bool = False

    def answers_to(self, value: str) -> bool:
        """Is `value` this vault's URL (any spelling) or short name?"""
        wanted = value.strip().rstrip("/").lower()
        if self.name and wanted == self.name.lower():
            return True
        try:
            return canonical_vault_url(wanted, "vault") == self.url
        except VaultSettingError:
            return False


def canonical_vault_url(raw: str, setting: str) -> str:
    """`https://host[:port]` in the spelling parse_secret_id gives a secret's vault."""
    value = raw.strip().rstrip("/")
    try:
        parsed = urlparse(value)
        port = parsed.port
        host = canonical_host(parsed.hostname or "")
    except (ValueError, InvalidHost):
        raise VaultSettingError(f"{setting} entry {value[:100]!r} is not an https URL of a vault") from None
    if parsed.scheme != "https" or not host or parsed.path or parsed.query or parsed.fragment or parsed.username:
        raise VaultSettingError(f"{setting} entry {value[:100]!r} must be https://<vault host>, nothing more")
    return f"https://{host}" if port in (None, 443) else f"https://{host}:{port}"


def parse_vaults(default_url: str, default_resource_id: str, urls: str, resource_ids: str) -> tuple[KnownVault, ...]:
    """The default vault first, then KEY_VAULT_URLS in order; every rule a vault must pass at start."""
    default = canonical_vault_url(default_url, "KEY_VAULT_URL")
    local = is_loopback(urlparse(default).hostname or "")
    extra = [canonical_vault_url(u, "KEY_VAULT_URLS") for u in _entries(urls)]
    ids = _entries(resource_ids)
    if ids and len(ids) != len(extra):
        raise VaultSettingError(
            f"KEY_VAULT_RESOURCE_IDS has {len(ids)} entries for {len(extra)} KEY_VAULT_URLS: give one per vault, "
            "in the same order"
        )
    vaults = [KnownVault(default, _name(default, default_resource_id), default_resource_id, is_default=True)]
    for index, url in enumerate(extra):
        _check_host(url, local)
        resource_id = ids[index] if ids else ""
        if resource_id:
            _check_resource_id(url, resource_id)
        vaults.append(KnownVault(url, _name(url, resource_id), resource_id))
    _check_unique(vaults)
    return tuple(vaults)


def _entries(raw: str) -> list[str]:
    return [e.strip() for e in raw.split(",") if e.strip()]


def _name(url: str, resource_id: str) -> str:
    host = urlparse(url).hostname or ""
    if host.endswith(KEY_VAULT_SUFFIXES):
        return host.split(".")[0]
    return resource_id.rstrip("/").rsplit("/", 1)[-1].lower() if resource_id else ""


def _check_host(url: str, local: bool) -> None:
    """The same rule as a link's keyVaultSecretId: our credential goes to Azure Key Vault hosts only,
    and to loopback emulators only when KEY_VAULT_URL is one."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if local and is_loopback(host):
        return
    if local:
        raise VaultSettingError(f"KEY_VAULT_URLS entry {url} is not a local emulator, as KEY_VAULT_URL is")
    if not host.endswith(KEY_VAULT_SUFFIXES) or parsed.port not in (None, 443):
        raise VaultSettingError(
            f"KEY_VAULT_URLS entry {url} must be an Azure Key Vault ({', '.join('*' + s for s in KEY_VAULT_SUFFIXES)})"
        )


def _check_resource_id(url: str, resource_id: str) -> None:
    match = _VAULT_RESOURCE_ID.fullmatch(resource_id.rstrip("/").lower())
    if match is None:
        raise VaultSettingError(
            f"KEY_VAULT_RESOURCE_IDS entry {resource_id[:200]!r} must be "
            "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>"
        )
    host = urlparse(url).hostname or ""
    if host.endswith(KEY_VAULT_SUFFIXES) and host.split(".")[0] != match["name"]:
        raise VaultSettingError(
            f"KEY_VAULT_RESOURCE_IDS names vault {match['name']} for {url}: the lists must be in the same order"
        )


def _check_unique(vaults: list[KnownVault]) -> None:
    seen_urls: set[str] = set()
    seen_names: set[str] = set()
    for vault in vaults:
        if vault.url in seen_urls:
            raise VaultSettingError(
                f"vault {vault.url} is listed twice (KEY_VAULT_URL is not repeated in KEY_VAULT_URLS)"
            )
        if vault.name and vault.name.lower() in seen_names:
            raise VaultSettingError(
                f"two vaults are named {vault.name}: a certificate could not say which one it means"
            )
        seen_urls.add(vault.url)
        seen_names.add(vault.name.lower())
