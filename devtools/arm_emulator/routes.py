"""ARM paths to targets: which resource kind, which names, item or collection, and the operation name.

Path keywords are case-insensitive, as ARM's are; names keep the caller's casing.
"""

from __future__ import annotations

from dataclasses import dataclass

from devtools.arm_emulator.errors import invalid_subscription, method_not_allowed, no_route
from devtools.arm_emulator.protocol import (
    DNS_API_VERSIONS,
    KEY_VAULT_API_VERSIONS,
    RESOURCES_API_VERSIONS,
    SUBSCRIPTION_ID,
    WEB_API_VERSIONS,
)

RESOURCE_GROUP_TYPE = "Microsoft.Resources/resourceGroups"
ASYNC_STATUS_OPERATION = "operationResults.get"  # `{resource id}/operationresults/{id}` (long_running.py)

# kind -> (ARM resource type, api-versions)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "resourceGroups": (RESOURCE_GROUP_TYPE, RESOURCES_API_VERSIONS),
    "serverfarms": ("Microsoft.Web/serverfarms", WEB_API_VERSIONS),
    "sites": ("Microsoft.Web/sites", WEB_API_VERSIONS),
    "sites.slots": ("Microsoft.Web/sites/slots", WEB_API_VERSIONS),
    "sites.hostNameBindings": ("Microsoft.Web/sites/hostNameBindings", WEB_API_VERSIONS),
    "sites.slots.hostNameBindings": ("Microsoft.Web/sites/slots/hostNameBindings", WEB_API_VERSIONS),
    "certificates": ("Microsoft.Web/certificates", WEB_API_VERSIONS),
    "vaults": ("Microsoft.KeyVault/vaults", KEY_VAULT_API_VERSIONS),
    "dnsZones": ("Microsoft.Network/dnsZones", DNS_API_VERSIONS),
    "dnsZones.recordSets": ("Microsoft.Network/dnsZones/recordSets", DNS_API_VERSIONS),
}

_VERBS = {"GET": "get", "PUT": "put", "DELETE": "delete", "HEAD": "head", "PATCH": "patch"}
_ITEM_METHODS: dict[str, tuple[str, ...]] = {
    "resourceGroups": ("GET", "PUT", "DELETE", "HEAD"),
    "vaults": ("GET",),
    "dnsZones.recordSets": ("GET", "PUT", "PATCH", "DELETE"),
}
_LIST_OPERATIONS: dict[str, tuple[str, ...]] = {
    "serverfarms": ("list", "listByResourceGroup"),
    "sites": ("list", "listByResourceGroup"),
    "certificates": ("list", "listByResourceGroup"),
    "dnsZones": ("list", "listByResourceGroup"),
    "dnsZones.recordSets": ("listByType", "listByDnsZone", "listAllByDnsZone"),
    "vaults": (),
}
_RECORD_SET_LISTS = {"recordsets": "listByDnsZone", "all": "listAllByDnsZone"}
_DEFAULT_ITEM_METHODS = ("GET", "PUT", "DELETE")
_TOP_LEVEL_WEB = {"serverfarms": "serverfarms", "sites": "sites", "certificates": "certificates"}


def operation_names() -> list[str]:
    names = []
    for kind in KINDS:
        methods = _ITEM_METHODS.get(kind, _DEFAULT_ITEM_METHODS)
        names += [f"{kind}.{_VERBS[m]}" for m in methods]
        names += [f"{kind}.{op}" for op in _LIST_OPERATIONS.get(kind, ("list",))]
    return [*names, ASYNC_STATUS_OPERATION]


@dataclass(frozen=True)
class Target:
    kind: str
    subscription: str
    resource_group: str | None
    names: tuple[str, ...]  # name chain: (site, slot, hostname) for an item, the parents' names for a list
    collection: bool
    operation: str

    @property
    def resource_type(self) -> str:
        return KINDS[self.kind][0]

    @property
    def api_versions(self) -> tuple[str, ...]:
        return KINDS[self.kind][1]


def resolve(method: str, path: str, segments: list[str]) -> Target:
    """Raise ARM's error for a path or method the emulator does not serve."""
    low = [s.lower() for s in segments]
    if len(low) < 3 or low[0] != "subscriptions":
        raise no_route(method, path)
    subscription = segments[1]
    # Guess/simplification: every well-formed subscription id exists (ARM would say SubscriptionNotFound).
    if not SUBSCRIPTION_ID.match(subscription):
        raise invalid_subscription(subscription)
    if low[2] == "providers" and len(low) == 5 and low[3] == "microsoft.web" and low[4] in _TOP_LEVEL_WEB:
        return _target(method, path, _TOP_LEVEL_WEB[low[4]], subscription, None, (), collection=True)
    if low[2:] == ["providers", "microsoft.network", "dnszones"]:
        return _target(method, path, "dnsZones", subscription, None, (), collection=True)
    if low[2] != "resourcegroups":
        raise no_route(method, path)
    if len(low) == 3:
        return _target(method, path, "resourceGroups", subscription, None, (), collection=True)
    group = segments[3]
    if len(low) == 4:
        return _target(method, path, "resourceGroups", subscription, None, (group,), collection=False)
    if len(low) < 7 or low[4] != "providers":
        raise no_route(method, path)
    provider, rest, rest_low = low[5], segments[6:], low[6:]
    if provider == "microsoft.keyvault" and len(rest) == 2 and rest_low[0] == "vaults":
        return _target(method, path, "vaults", subscription, group, (rest[1],), collection=False)
    if provider == "microsoft.network" and rest_low[0] == "dnszones":
        return _dns(method, path, subscription, group, rest, rest_low)
    if provider != "microsoft.web" or rest_low[0] not in _TOP_LEVEL_WEB:
        raise no_route(method, path)
    kind = _TOP_LEVEL_WEB[rest_low[0]]
    if len(rest) == 1:
        return _target(method, path, kind, subscription, group, (), collection=True, listing="listByResourceGroup")
    if len(rest) == 2:
        return _target(method, path, kind, subscription, group, (rest[1],), collection=False)
    if kind != "sites":
        raise no_route(method, path)
    return _site_child(method, path, subscription, group, rest, rest_low)


def _site_child(method: str, path: str, subscription: str, group: str, rest: list[str], low: list[str]) -> Target:
    site = rest[1]
    if low[2] == "hostnamebindings" and len(rest) in (3, 4):
        return _target(
            method, path, "sites.hostNameBindings", subscription, group, (site, *rest[3:]), collection=len(rest) == 3
        )
    if low[2] == "slots" and len(rest) in (3, 4):
        return _target(method, path, "sites.slots", subscription, group, (site, *rest[3:]), collection=len(rest) == 3)
    if low[2] == "slots" and len(rest) in (5, 6) and low[4] == "hostnamebindings":
        names = (site, rest[3], *rest[5:])
        return _target(
            method, path, "sites.slots.hostNameBindings", subscription, group, names, collection=len(rest) == 5
        )
    raise no_route(method, path)


def _dns(method: str, path: str, subscription: str, group: str, rest: list[str], low: list[str]) -> Target:
    if len(rest) == 1:
        return _target(
            method, path, "dnsZones", subscription, group, (), collection=True, listing="listByResourceGroup"
        )
    if len(rest) == 2:
        return _target(method, path, "dnsZones", subscription, group, (rest[1],), collection=False)
    kind = "dnsZones.recordSets"
    if len(rest) == 3 and low[2] in _RECORD_SET_LISTS:
        return _target(
            method, path, kind, subscription, group, (rest[1],), collection=True, listing=_RECORD_SET_LISTS[low[2]]
        )
    if len(rest) == 3:
        names = (rest[1], rest[2].upper())
        return _target(method, path, kind, subscription, group, names, collection=True, listing="listByType")
    if len(rest) == 4:
        return _target(method, path, kind, subscription, group, (rest[1], rest[2].upper(), rest[3]), collection=False)
    raise no_route(method, path)


def _target(
    method: str,
    path: str,
    kind: str,
    subscription: str,
    group: str | None,
    names: tuple[str, ...],
    *,
    collection: bool,
    listing: str = "list",
) -> Target:
    if collection:
        if method != "GET" or kind == "vaults":
            raise method_not_allowed(method, ("GET",))
        operation = f"{kind}.{listing}"
    else:
        allowed = _ITEM_METHODS.get(kind, _DEFAULT_ITEM_METHODS)
        if method not in allowed:
            raise method_not_allowed(method, allowed)
        operation = f"{kind}.{_VERBS[method]}"
    if kind == "resourceGroups" and not collection:
        return Target(kind, subscription, names[0], (), False, operation)
    return Target(kind, subscription, group, names, collection, operation)
