"""DNS-01 through Azure DNS: TXT values merged into the record set of the zone that owns the name.

Decisions (which zone, which record name, which values remain) are pure functions; the
provider only reads the record set, applies one of them and writes back with an ETag
(If-Match, or If-None-Match: * for a new set), so a concurrent order touching the same name
gets 412 and is retried on a fresh read instead of overwriting the other order's value.
Zones are found across several subscriptions / resource groups (ZoneScope).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.dns.models import RecordSet, TxtRecord

from shared.dependencies import ARM, response_hook
from shared.dns.base import absolute_name
from shared.errors import BadRequest, DependencyError

log = logging.getLogger(__name__)

TXT_TTL_SECONDS = 60  # short, so a resolver that cached the old set sees the new value soon
_TXT_CHUNK = 255  # one TXT character-string holds at most 255 bytes
_WRITE_ATTEMPTS = 8  # each 412 means another writer got in first; a few orders for one name at once

ClientFactory = Callable[[str], Any]  # subscription id -> a DnsManagementClient (or a stand-in in tests)


def find_zone(fqdn: str, zone_names: Iterable[str]) -> str | None:
    """The longest zone that is `fqdn` or a parent of it (whole labels only), or None."""
    name = absolute_name(fqdn)
    best: str | None = None
    for zone in zone_names:
        candidate = absolute_name(zone)
        inside = name == candidate or name.endswith("." + candidate)
        if inside and (best is None or len(candidate) > len(best)):
            best = candidate
    return best.rstrip(".") if best else None


def relative_record_name(fqdn: str, zone: str) -> str:
    """The record-set name inside `zone` ("@" for the apex), as the Azure API addresses it."""
    name, apex = absolute_name(fqdn), absolute_name(zone)
    if name == apex:
        return "@"
    if not name.endswith("." + apex):
        raise ValueError(f"{name} is not inside zone {apex}")
    return name[: -len(apex) - 1]


def with_txt_value(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return values if value in values else (*values, value)


def without_txt_value(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value)


def txt_chunks(value: str) -> list[str]:
    """Split one logical TXT value into 255-character strings (ACME values are 43, one chunk)."""
    return [value[i : i + _TXT_CHUNK] for i in range(0, len(value), _TXT_CHUNK)] or [""]


@dataclass(frozen=True)
class _TxtSet:
    values: tuple[str, ...]
    etag: str | None  # None: the record set does not exist
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class ZoneScope:
    """Where certsync looks for zones: one resource group of a subscription, or all of it ("")."""

    subscription: str
    resource_group: str = ""


@dataclass(frozen=True)
class Zone:
    name: str
    subscription: str
    resource_group: str


def dns_client_factory(endpoint: str, credential: TokenCredential, verify: str | bool = True) -> ClientFactory:
    """DnsManagementClients (one per subscription) for an ARM endpoint (Azure's, or the local emulator's)."""
    endpoint = endpoint.rstrip("/")

    def client(subscription: str) -> Any:
        return DnsManagementClient(
            credential,
            subscription,
            base_url=endpoint,
            credential_scopes=[f"{endpoint}/.default"],
            connection_verify=verify,
            raw_response_hook=response_hook(ARM),
        )

    return client


class AzureDnsProvider:
    """Needs DNS Zone Contributor (or a TXT-only custom role) on the zones of every scope.

    The zone for a name is the longest zone, across all scopes, that contains it; a zone name
    found in two scopes is taken from the first scope listed.
    """

    def __init__(self, scopes: Sequence[ZoneScope], clients: ClientFactory, *, ttl: int = TXT_TTL_SECONDS) -> None:
        if not scopes:
            raise ValueError("AzureDnsProvider needs at least one subscription or resource group")
        self.scopes = tuple(scopes)
        self.ttl = ttl
        self._client_for = clients
        self._clients: dict[str, Any] = {}
        self._zones: dict[str, Zone] | None = None
        self._lock = threading.Lock()

    def set_txt(self, fqdn: str, value: str) -> None:
        self._update(fqdn, lambda values: with_txt_value(values, value))

    def clear_txt(self, fqdn: str, value: str) -> None:
        self._update(fqdn, lambda values: without_txt_value(values, value))

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _client(self, subscription: str) -> Any:
        with self._lock:
            if subscription not in self._clients:
                self._clients[subscription] = self._client_for(subscription)
            return self._clients[subscription]

    def _update(self, fqdn: str, change: Callable[[tuple[str, ...]], tuple[str, ...]]) -> None:
        zone = self._zone_for(fqdn)
        name = relative_record_name(fqdn, zone.name)
        for _ in range(_WRITE_ATTEMPTS):
            current = self._read(zone, name)
            values = change(current.values)
            if values == current.values:
                return
            try:
                self._write(zone, name, values, current)
                return
            except HttpResponseError as err:
                if err.status_code not in (409, 412):
                    raise _dns_error(err, f"writing TXT {name} in zone {zone.name}") from err
                log.info("TXT %s in zone %s changed under us; retrying", name, zone.name)
            except AzureError as err:
                raise _dns_error(err, f"writing TXT {name} in zone {zone.name}") from err
        raise DependencyError(
            f"Azure DNS TXT {name} in zone {zone.name} kept changing during the update; try again",
            code="DnsUpdateFailed",
        )

    def _zone_for(self, fqdn: str) -> Zone:
        # Zones change rarely: one listing per provider instance, again only when no zone covers a name.
        for fresh in (False, True):
            zones = self._zone_map(refresh=fresh)
            name = find_zone(fqdn, zones)
            if name is not None:
                return zones[name]
        where = ", ".join(f"{s.subscription}/{s.resource_group or '*'}" for s in self.scopes)
        raise BadRequest(f"no Azure DNS zone in {where} covers {absolute_name(fqdn)}", code="DnsZoneNotFound")

    def _zone_map(self, *, refresh: bool) -> dict[str, Zone]:
        if self._zones is not None and not refresh:
            return self._zones
        zones: dict[str, Zone] = {}
        for scope in self.scopes:
            for zone in self._list_zones(scope):
                zones.setdefault(zone.name, zone)
        self._zones = zones
        return zones

    def _list_zones(self, scope: ZoneScope) -> list[Zone]:
        client = self._client(scope.subscription)
        try:
            if scope.resource_group:
                listed = client.zones.list_by_resource_group(scope.resource_group)
                return [Zone(z.name.lower(), scope.subscription, scope.resource_group) for z in listed]
            return [Zone(z.name.lower(), scope.subscription, _group_of(z.id)) for z in client.zones.list()]
        except AzureError as err:
            where = f"resource group {scope.resource_group}" if scope.resource_group else "the subscription"
            raise _dns_error(err, f"listing zones in {where} of subscription {scope.subscription}") from err

    def _read(self, zone: Zone, name: str) -> _TxtSet:
        try:
            record_set = self._client(zone.subscription).record_sets.get(zone.resource_group, zone.name, name, "TXT")
        except ResourceNotFoundError:
            return _TxtSet(values=(), etag=None)
        except AzureError as err:
            raise _dns_error(err, f"reading TXT {name} in zone {zone.name}") from err
        values = tuple("".join(record.value or []) for record in record_set.txt_records or [])
        return _TxtSet(values=values, etag=record_set.etag, metadata=record_set.metadata)

    def _write(self, zone: Zone, name: str, values: tuple[str, ...], current: _TxtSet) -> None:
        record_sets = self._client(zone.subscription).record_sets
        if not values:
            record_sets.delete(zone.resource_group, zone.name, name, "TXT", if_match=current.etag)
            return
        record_set = RecordSet(
            ttl=self.ttl,
            metadata=current.metadata,
            txt_records=[TxtRecord(value=txt_chunks(v)) for v in values],
        )
        record_sets.create_or_update(
            zone.resource_group,
            zone.name,
            name,
            "TXT",
            record_set,
            if_match=current.etag,
            if_none_match=None if current.etag else "*",
        )


def _group_of(resource_id: str) -> str:
    """The resource group named in an ARM id (`/subscriptions/s/resourceGroups/g/...`)."""
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""


def _dns_error(err: AzureError, doing: str) -> DependencyError:
    if isinstance(err, HttpResponseError):
        detail = getattr(getattr(err, "error", None), "message", None) or err.reason or "request failed"
        return DependencyError(f"Azure DNS failed {doing} (HTTP {err.status_code}): {detail}", code="DnsUpdateFailed")
    return DependencyError(f"Azure DNS unreachable while {doing}: {type(err).__name__}", code="DnsUpdateFailed")
