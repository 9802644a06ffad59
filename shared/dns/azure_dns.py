"""DNS-01 through Azure DNS: TXT values merged into the record set of the zone that owns the name.

Decisions (which zone, which record name, which values remain) are pure functions; the
provider only reads the record set, applies one of them and writes back with an ETag, so a
concurrent order touching the same name is retried instead of overwritten.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
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
_WRITE_ATTEMPTS = 4  # ETag races are rare: two orders for one name at the same instant


def find_zone(fqdn: str, zone_names: Iterable[str]) -> str | None:
    """The longest zone that is `fqdn` or a parent of it (whole labels only), or None."""
    name = absolute_name(fqdn)
    best: str | None = None
    for zone in zone_names:
        candidate = absolute_name(zone)
        covers = name == candidate or name.endswith("." + candidate)
        if covers and (best is None or len(candidate) > len(best)):
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


class AzureDnsProvider:
    """Needs DNS Zone Contributor (or a TXT-only custom role) on the resource group's zones."""

    def __init__(
        self,
        subscription_id: str,
        resource_group: str,
        credential: TokenCredential,
        *,
        ttl: int = TXT_TTL_SECONDS,
        client: Any = None,
    ) -> None:
        if client is None:
            client = DnsManagementClient(credential, subscription_id, raw_response_hook=response_hook(ARM))
        self.client = client
        self.resource_group = resource_group
        self.ttl = ttl
        self._zones: tuple[str, ...] | None = None

    def set_txt(self, fqdn: str, value: str) -> None:
        self._update(fqdn, lambda values: with_txt_value(values, value))

    def clear_txt(self, fqdn: str, value: str) -> None:
        self._update(fqdn, lambda values: without_txt_value(values, value))

    def close(self) -> None:
        self.client.close()

    def _update(self, fqdn: str, change: Callable[[tuple[str, ...]], tuple[str, ...]]) -> None:
        zone = self._zone_for(fqdn)
        name = relative_record_name(fqdn, zone)
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
                    raise _dns_error(err, f"writing TXT {name} in zone {zone}") from err
                log.info("TXT %s in zone %s changed under us; retrying", name, zone)
            except AzureError as err:
                raise _dns_error(err, f"writing TXT {name} in zone {zone}") from err
        raise DependencyError(
            f"Azure DNS TXT {name} in zone {zone} kept changing during the update; try again",
            code="DnsUpdateFailed",
        )

    def _zone_for(self, fqdn: str) -> str:
        zone = find_zone(fqdn, self._zone_names())
        if zone is None:
            raise BadRequest(
                f"no Azure DNS zone in resource group {self.resource_group} covers {absolute_name(fqdn)}",
                code="DnsZoneNotFound",
            )
        return zone

    def _zone_names(self) -> tuple[str, ...]:
        # Zones change rarely; one listing per provider instance (i.e. per process) is enough.
        if self._zones is None:
            try:
                self._zones = tuple(z.name for z in self.client.zones.list_by_resource_group(self.resource_group))
            except AzureError as err:
                raise _dns_error(err, f"listing zones in resource group {self.resource_group}") from err
        return self._zones

    def _read(self, zone: str, name: str) -> _TxtSet:
        try:
            record_set = self.client.record_sets.get(self.resource_group, zone, name, "TXT")
        except ResourceNotFoundError:
            return _TxtSet(values=(), etag=None)
        except AzureError as err:
            raise _dns_error(err, f"reading TXT {name} in zone {zone}") from err
        values = tuple("".join(record.value or []) for record in record_set.txt_records or [])
        return _TxtSet(values=values, etag=record_set.etag, metadata=record_set.metadata)

    def _write(self, zone: str, name: str, values: tuple[str, ...], current: _TxtSet) -> None:
        if not values:
            self.client.record_sets.delete(self.resource_group, zone, name, "TXT", if_match=current.etag)
            return
        record_set = RecordSet(
            ttl=self.ttl,
            metadata=current.metadata,
            txt_records=[TxtRecord(value=txt_chunks(v)) for v in values],
        )
        self.client.record_sets.create_or_update(
            self.resource_group,
            zone,
            name,
            "TXT",
            record_set,
            if_match=current.etag,
            if_none_match=None if current.etag else "*",
        )


def _dns_error(err: AzureError, doing: str) -> DependencyError:
    if isinstance(err, HttpResponseError):
        detail = getattr(getattr(err, "error", None), "message", None) or err.reason or "request failed"
        return DependencyError(f"Azure DNS failed {doing} (HTTP {err.status_code}): {detail}", code="DnsUpdateFailed")
    return DependencyError(f"Azure DNS unreachable while {doing}: {type(err).__name__}", code="DnsUpdateFailed")
