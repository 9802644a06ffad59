"""Every Azure RBAC action and data action certsync's identity performs, and where it needs it.

This is the one list: infra/azuredeploy.json grants exactly these (tests/infra checks each one is
covered by a role assigned at the right scope), the README's deployment section names the roles,
and an adapter that starts calling a new Azure operation adds it here first. Action names are
written as in Azure role definitions (`Actions` for the control plane, `DataActions` for data).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    """Where a role must be assigned for the permission to apply."""

    STORAGE = "storage"  # the app's own storage account: state tables, operations queue, host blobs
    # every configured vault (KEY_VAULT_URL, which also holds the local CA and the ACME account key, and
    # each KEY_VAULT_URLS entry: the template assigns its own vault; the others are the deployer's to assign)
    KEY_VAULT = "keyVault"
    DNS = "dns"  # the resource group of the Azure DNS zones answered for DNS-01
    APP_SERVICE = "appService"  # the subscriptions or resource groups whose apps certsync manages


@dataclass(frozen=True)
class Permission:
    action: str
    scope: Scope
    data: bool  # a DataAction (data plane), else an Action (Azure Resource Manager)
    used_for: str


def _storage(action: str, used_for: str, *, data: bool = True) -> Permission:
    return Permission(f"Microsoft.Storage/storageAccounts/{action}", Scope.STORAGE, data, used_for)


def _vault(action: str, used_for: str) -> Permission:
    return Permission(f"Microsoft.KeyVault/vaults/secrets/{action}", Scope.KEY_VAULT, True, used_for)


def _arm(action: str, scope: Scope, used_for: str) -> Permission:
    return Permission(action, scope, False, used_for)


PERMISSIONS: tuple[Permission, ...] = (
    # shared/tables.py
    _storage("tableServices/tables/write", "create the state tables", data=False),
    _storage("tableServices/tables/read", "health check lists tables", data=False),
    _storage("tableServices/tables/entities/read", "read and query rows"),
    _storage("tableServices/tables/entities/add/action", "insert rows"),
    _storage("tableServices/tables/entities/update/action", "ETag updates and batch writes"),
    _storage("tableServices/tables/entities/write", "insert or replace rows"),
    _storage("tableServices/tables/entities/delete", "delete rows"),
    # shared/queueing.py and the Functions host's queue trigger (poison queue included)
    _storage("queueServices/queues/write", "create the operations and poison queues", data=False),
    _storage("queueServices/queues/read", "queue properties", data=False),
    _storage("queueServices/queues/messages/write", "enqueue operations (Put Message)"),
    _storage("queueServices/queues/messages/read", "queue trigger peeks and receives"),
    _storage("queueServices/queues/messages/process/action", "queue trigger receives and deletes"),
    _storage("queueServices/queues/messages/delete", "queue trigger deletes handled messages"),
    # The Functions host itself: timer singleton leases and schedule status, the deployment package
    _storage("blobServices/containers/write", "host creates its containers", data=False),
    _storage("blobServices/containers/blobs/read", "host leases, schedule status, deployment package"),
    _storage("blobServices/containers/blobs/write", "host leases and schedule status"),
    _storage("blobServices/containers/blobs/delete", "host cleans up its blobs"),
    # shared/vault.py, on every configured vault (links may reference secrets in other vaults: grant
    # getSecret and readMetadata there)
    _vault("getSecret/action", "read a certificate version, the local CA, the ACME account key"),
    _vault("readMetadata/action", "list secrets and versions (sweep, adopt a version after a crash)"),
    _vault("setSecret/action", "write each issued certificate as a new version"),
    # shared/dns/azure_dns.py (DNS-01)
    _arm("Microsoft.Network/dnsZones/read", Scope.DNS, "list the zones of the resource group"),
    _arm("Microsoft.Network/dnsZones/TXT/read", Scope.DNS, "read the challenge record set"),
    _arm("Microsoft.Network/dnsZones/TXT/write", Scope.DNS, "write the challenge record set"),
    _arm("Microsoft.Network/dnsZones/TXT/delete", Scope.DNS, "remove the challenge record set"),
    # The App Service connector (issue #12): linked certificates and hostname bindings in ARM
    _arm("Microsoft.Web/certificates/read", Scope.APP_SERVICE, "discover linked certificates"),
    _arm("Microsoft.Web/certificates/write", Scope.APP_SERVICE, "re-import a certificate from Key Vault"),
    _arm("Microsoft.Web/sites/read", Scope.APP_SERVICE, "discover apps and their SSL states"),
    _arm("Microsoft.Web/sites/slots/read", Scope.APP_SERVICE, "discover deployment slots"),
    _arm("Microsoft.Web/sites/hostNameBindings/read", Scope.APP_SERVICE, "read hostname bindings"),
    _arm("Microsoft.Web/sites/hostNameBindings/write", Scope.APP_SERVICE, "move a binding to a thumbprint"),
    _arm("Microsoft.Web/sites/slots/hostNameBindings/read", Scope.APP_SERVICE, "read slot bindings"),
    _arm("Microsoft.Web/sites/slots/hostNameBindings/write", Scope.APP_SERVICE, "move a slot binding"),
    _arm("Microsoft.Web/serverfarms/read", Scope.APP_SERVICE, "the plan a certificate resource belongs to"),
)


def actions_at(scope: Scope, *, data: bool) -> tuple[str, ...]:
    """The actions (or data actions) needed at one kind of scope."""
    return tuple(p.action for p in PERMISSIONS if p.scope is scope and p.data is data)
