"""What certsync reads from and writes to ARM: certificate resources and hostname bindings.

Plain dataclasses and pure decisions (which resource references which secret, how a resource
is named as a link), so the adapter and the in-memory fake share them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

SUCCEEDED = "Succeeded"  # keyVaultSecretStatus once App Service has read the secret


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    name: str


def parse_resource_id(resource_id: str) -> ResourceId:
    """/subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}[...]: the first name."""
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    try:
        sub = parts[lowered.index("subscriptions") + 1]
        group = parts[lowered.index("resourcegroups") + 1]
        name = parts[lowered.index("providers") + 3]
    except (ValueError, IndexError):
        raise ValueError(f"not an ARM resource id: {resource_id[:200]!r}") from None
    return ResourceId(sub.lower(), group, name)


@dataclass(frozen=True)
class ArmCertificate:
    """A Microsoft.Web/certificates resource imported from a Key Vault secret."""

    subscription: str
    resource_group: str
    name: str
    location: str
    key_vault_id: str  # the vault's ARM resource id
    key_vault_secret_name: str
    server_farm_id: str = ""
    thumbprint: str = ""
    expiration: datetime | None = None
    host_names: tuple[str, ...] = ()
    secret_status: str = ""  # keyVaultSecretStatus: Succeeded, AzureServiceUnauthorizedToAccessKeyVault, ...
    read_at: datetime | None = field(default=None, compare=False)  # when ARM answered with this

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Web/certificates/{self.name}"
        )

    def references(self, vault_id: str, secret_name: str) -> bool:
        """Vault ids and secret names ignore case in ARM and Key Vault."""
        return (
            self.key_vault_id.rstrip("/").lower() == vault_id.rstrip("/").lower()
            and self.key_vault_secret_name.lower() == secret_name.lower()
        )


@dataclass(frozen=True)
class ArmBinding:
    """A hostname of a site or deployment slot, with SSL on when `thumbprint` is set."""

    subscription: str
    resource_group: str
    site: str
    hostname: str
    slot: str = ""  # "" for the production slot
    ssl_state: str = "SniEnabled"
    thumbprint: str = ""

    @property
    def app(self) -> str:
        return f"{self.site}/{self.slot}" if self.slot else self.site


@dataclass(frozen=True)
class ArmApp:
    """A site or deployment slot: where a certificate for it must live (its webspace)."""

    subscription: str
    resource_group: str
    site: str
    slot: str
    location: str
    server_farm_id: str


def app_resource_id(certificate_id: str, resource_group: str, site: str, slot: str = "") -> str:
    """The site's (or slot's) resource id; App Service binds a certificate only within its
    webspace, so the site is in the certificate resource's subscription. "" without one."""
    if not certificate_id or not resource_group:
        return ""
    subscription = parse_resource_id(certificate_id).subscription
    site_id = f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Web/sites/{site}"
    return f"{site_id}/slots/{slot}" if slot else site_id


def link_name(cert: ArmCertificate) -> str:
    """A certsync link name for an ARM certificate: its own name when that is a valid link name,
    else a slug; always suffixed with a hash of the resource id, since names are unique only
    within a resource group in ARM but across all scopes in certsync."""
    slug = re.sub(r"[^a-z0-9-]+", "-", cert.name.lower()).strip("-")[:50] or "cert"
    digest = hashlib.sha256(cert.id.lower().encode()).hexdigest()[:8]
    return f"{slug}-{digest}"
