"""Microsoft.Network/dnsZones and their record sets (A, AAAA, CAA, CNAME, MX, NS, PTR, SRV, TXT), as azure-mgmt-dns
drives them.

Every write gives the zone or record set a new ETag; If-Match / If-None-Match make writes
conditional (412 PreconditionFailed), which is how concurrent ACME DNS-01 updates stay safe.
A new zone has its apex SOA and NS record sets, read-only here.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devtools.arm_emulator.context import ArmRequest, ArmState
from devtools.arm_emulator.errors import ArmError, bad_request, resource_not_found
from devtools.arm_emulator.protocol import HOST_NAME, MAX_RECORD_SETS_PER_ZONE, MAX_TXT_STRING, RECORD_NAME
from devtools.arm_emulator.resources import group_id, provider_id, require_group, tags_of
from devtools.arm_emulator.store import Resource, ResourceStore
from devtools.emulator_http import Reply

ZONE_TYPE = "Microsoft.Network/dnsZones"
# Guess: Azure DNS's own name servers for a zone are assigned from a pool; these four stand in.
_NAME_SERVERS = ["ns1-01.azure-dns.com.", "ns2-01.azure-dns.net.", "ns3-01.azure-dns.org.", "ns4-01.azure-dns.info."]
_MAX_TXT_RECORDS = 400  # Guess: Azure DNS documents record-set limits per zone, not TXT values per set.
_MAX_RECORDS = 400  # Guess: the same cap for every other list of records in one set.
_DOMAIN = re.compile(
    r"^(?=.{1,253}\.?$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)
_U16 = (0, 65535)


# -- zones ---------------------------------------------------------------------------------


def put_zone(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    group, name = target.resource_group or "", target.names[0].lower().rstrip(".")
    if not HOST_NAME.match(name) or name.startswith("*."):
        raise bad_request(f"The zone name '{name[:253]}' is not a valid DNS name.", "InvalidZoneName")
    require_group(state, target.subscription, group)
    body = request.json_object()
    zone_id = provider_id(target.subscription, group, ZONE_TYPE, name)
    existing = state.store.get(zone_id)
    _check_conditions(request, existing, f"zone {name}")
    etag = str(uuid.uuid4())
    zone = Resource(
        {
            "id": zone_id,
            "name": name,
            "type": ZONE_TYPE,
            "location": "global",  # Azure DNS zones are always global
            "etag": etag,
            "tags": tags_of(body),
            "properties": {
                "maxNumberOfRecordSets": MAX_RECORD_SETS_PER_ZONE,
                "nameServers": _NAME_SERVERS,
                "zoneType": "Public",
            },
        }
    )
    state.store.put(zone)
    if existing is None:
        _add_apex_records(state.store, zone)
    return Reply(200 if existing else 201, zone_view(state.store, zone), {"ETag": etag})


def get_zone(state: ArmState, request: ArmRequest) -> Reply:
    zone = _require_zone(state, request)
    return Reply(200, zone_view(state.store, zone), {"ETag": zone.body["etag"]})


def delete_zone(state: ArmState, request: ArmRequest) -> Reply:
    # Simplification: Azure DNS deletes a zone asynchronously (202); here it is gone at once.
    target = request.target
    require_group(state, target.subscription, target.resource_group or "")
    zone = state.store.get(provider_id(target.subscription, target.resource_group or "", ZONE_TYPE, target.names[0]))
    _check_conditions(request, zone, f"zone {target.names[0]}")
    if zone is None:
        return Reply(204)
    state.store.delete_tree(zone.id)
    return Reply(200)


def list_zones(state: ArmState, request: ArmRequest) -> list[dict[str, Any]]:
    target = request.target
    if target.resource_group is None:
        zones = state.store.children(f"/subscriptions/{target.subscription}", ZONE_TYPE)
    else:
        require_group(state, target.subscription, target.resource_group)
        zones = state.store.children(group_id(target.subscription, target.resource_group), ZONE_TYPE)
    return [zone_view(state.store, z) for z in zones]


def zone_view(store: ResourceStore, zone: Resource) -> dict[str, Any]:
    view = dict(zone.body)
    view["properties"] = {**zone.properties, "numberOfRecordSets": len(_record_sets(store, zone))}
    return view


# -- record sets ---------------------------------------------------------------------------


def put_record_set(state: ArmState, request: ArmRequest) -> Reply:
    zone = _require_zone(state, request)
    record_type, name = _writable(request)
    record_id = f"{zone.id}/{record_type}/{name}"
    existing = state.store.get(record_id)
    _check_conditions(request, existing, f"record set {record_type} {name}")
    if existing is None and len(_record_sets(state.store, zone)) >= MAX_RECORD_SETS_PER_ZONE:
        raise ArmError(
            409, "Conflict", f"The zone {zone.body['name']} already holds the maximum number of record sets."
        )
    props = request.properties(request.json_object())
    record = _record_set(zone, record_type, name, existing, props, replace=True)
    state.store.put(record)
    return Reply(200 if existing else 201, record.body, {"ETag": record.body["etag"]})


def patch_record_set(state: ArmState, request: ArmRequest) -> Reply:
    zone = _require_zone(state, request)
    record_type, name = _writable(request)
    existing = _require_record_set(state, request, zone)
    _check_conditions(request, existing, f"record set {record_type} {name}")
    props = request.properties(request.json_object())
    record = _record_set(zone, record_type, existing.body["name"], existing, props, replace=False)
    state.store.put(record)
    return Reply(200, record.body, {"ETag": record.body["etag"]})


def get_record_set(state: ArmState, request: ArmRequest) -> Reply:
    zone = _require_zone(state, request)
    record = _require_record_set(state, request, zone)
    return Reply(200, record.body, {"ETag": record.body["etag"]})


def delete_record_set(state: ArmState, request: ArmRequest) -> Reply:
    zone = _require_zone(state, request)
    record_type, name = _writable(request)
    existing = state.store.get(f"{zone.id}/{record_type}/{name}")
    _check_conditions(request, existing, f"record set {record_type} {name}")
    if existing is None:
        return Reply(204)
    state.store.delete_tree(existing.id)
    return Reply(200)


def list_record_sets(state: ArmState, request: ArmRequest) -> list[Resource]:
    """All of a zone's record sets, or one type's; `recordsetnamesuffix` filters by name suffix."""
    zone = _require_zone(state, request)
    records = _record_sets(state.store, zone)
    if request.target.operation.endswith("listByType"):
        record_type = request.target.names[1]
        records = [r for r in records if r.type == f"{ZONE_TYPE}/{record_type}"]
    suffix = request.query.get("$recordsetnamesuffix") or request.query.get("recordsetnamesuffix")
    if suffix:
        records = [r for r in records if r.body["name"].lower().endswith(suffix.lower().rstrip("."))]
    return records


# -- rules ---------------------------------------------------------------------------------


def _record_set(
    zone: Resource, record_type: str, name: str, existing: Resource | None, props: dict[str, Any], *, replace: bool
) -> Resource:
    """The record set after a PUT (replace) or PATCH (only the given properties change)."""
    old = existing.properties if existing else {}
    ttl = props.get("TTL", None if replace else old.get("TTL"))
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2_147_483_647):
        raise bad_request("TTL must be an integer between 0 and 2147483647.", "InvalidRequestContent")
    metadata = props.get("metadata") if "metadata" in props or replace else old.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise bad_request("metadata must be an object of strings.", "InvalidRequestContent")
    kind = RECORD_KINDS[record_type]
    _reject_other_kinds(record_type, props)
    records = kind.parse(props.get(kind.key)) if kind.key in props or replace else old.get(kind.key, kind.empty)
    if record_type == "CNAME" and name == "@":
        # Guess: the code and wording; DNS (RFC 1034) forbids a CNAME beside the apex SOA/NS, and Azure refuses it.
        raise bad_request("A CNAME record set cannot be created at the zone apex.", "BadRequest")
    fqdn = f"{zone.body['name']}." if name == "@" else f"{name}.{zone.body['name']}."
    properties: dict[str, Any] = {
        "TTL": ttl if ttl is not None else 3600,  # Guess: the TTL a record set gets when none is given
        "fqdn": fqdn,
        "provisioningState": "Succeeded",
        "targetResource": {},
    }
    if records is not None:
        properties[kind.key] = records
    if metadata:
        properties["metadata"] = metadata
    return Resource(
        {
            "id": existing.id if existing else f"{zone.id}/{record_type}/{name}",
            "name": existing.body["name"] if existing else name,
            "type": f"{ZONE_TYPE}/{record_type}",
            "etag": str(uuid.uuid4()),
            "properties": properties,
        }
    )


def _txt_records(value: Any) -> list[dict[str, list[str]]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > _MAX_TXT_RECORDS:
        raise bad_request(f"TXTRecords must be a list of at most {_MAX_TXT_RECORDS} records.", "InvalidRequestContent")
    records = []
    for record in value:
        strings = record.get("value") if isinstance(record, dict) else None
        if not isinstance(strings, list) or not strings or not all(isinstance(s, str) for s in strings):
            raise bad_request("Each TXT record needs a non-empty 'value' list of strings.", "InvalidRequestContent")
        if any(len(s) > MAX_TXT_STRING for s in strings):
            raise bad_request(
                f"A TXT record string is longer than {MAX_TXT_STRING} characters; split it into several strings.",
                "InvalidRequestContent",
            )
        records.append({"value": list(strings)})
    return records


@dataclass(frozen=True)
class RecordKind:
    """Where a record type's records live in `properties` (the spec's casing) and how one is checked."""

    key: str
    parse: Callable[[Any], Any]
    empty: Any = None


def _records_of(label: str, check: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Any], list[Any]]:
    def parse(value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > _MAX_RECORDS:
            raise bad_request(f"{label} must be a list of at most {_MAX_RECORDS} records.", "InvalidRequestContent")
        if not all(isinstance(r, dict) for r in value):
            raise bad_request(f"Each record in {label} must be an object.", "InvalidRequestContent")
        return [check(r) for r in value]

    return parse


def _field(record: dict[str, Any], name: str, kind: str, bounds: tuple[int, int] | None = None) -> Any:
    """One field of a record: a domain name, an IP address, a string or a bounded integer."""
    value = record.get(name)
    if bounds is not None:
        if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
            raise bad_request(f"'{name}' must be an integer from {bounds[0]} to {bounds[1]}.", "InvalidRequestContent")
        return value
    if not isinstance(value, str) or not value:
        raise bad_request(f"'{name}' must be a non-empty string.", "InvalidRequestContent")
    if kind == "domain" and not _DOMAIN.match(value.lower()):
        raise bad_request(f"'{name}' is not a valid domain name: '{value[:253]}'.", "InvalidRequestContent")
    if kind in ("ipv4", "ipv6"):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            address = None
        if address is None or address.version != (4 if kind == "ipv4" else 6):
            raise bad_request(
                f"'{name}' is not a valid {kind.upper()} address: '{value[:64]}'.", "InvalidRequestContent"
            )
    return value


def _cname_record(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        # Guess: the code; a CNAME record set holds exactly one record (RFC 1034), the API's single CNAMERecord.
        raise bad_request("A CNAME record set can hold only one record.", "BadRequest")
    if not isinstance(value, dict):
        raise bad_request("CNAMERecord must be an object.", "InvalidRequestContent")
    return {"cname": _field(value, "cname", "domain")}


RECORD_KINDS: dict[str, RecordKind] = {
    "A": RecordKind(
        "ARecords", _records_of("ARecords", lambda r: {"ipv4Address": _field(r, "ipv4Address", "ipv4")}), []
    ),
    "AAAA": RecordKind(
        "AAAARecords", _records_of("AAAARecords", lambda r: {"ipv6Address": _field(r, "ipv6Address", "ipv6")}), []
    ),
    "CAA": RecordKind(
        "caaRecords",
        _records_of(
            "caaRecords",
            lambda r: {
                "flags": _field(r, "flags", "", (0, 255)),
                "tag": _field(r, "tag", ""),
                "value": _field(r, "value", ""),
            },
        ),
        [],
    ),
    "CNAME": RecordKind("CNAMERecord", _cname_record),
    "MX": RecordKind(
        "MXRecords",
        _records_of(
            "MXRecords",
            lambda r: {"preference": _field(r, "preference", "", _U16), "exchange": _field(r, "exchange", "domain")},
        ),
        [],
    ),
    "NS": RecordKind("NSRecords", _records_of("NSRecords", lambda r: {"nsdname": _field(r, "nsdname", "domain")}), []),
    "PTR": RecordKind(
        "PTRRecords", _records_of("PTRRecords", lambda r: {"ptrdname": _field(r, "ptrdname", "domain")}), []
    ),
    "SRV": RecordKind(
        "SRVRecords",
        _records_of(
            "SRVRecords",
            lambda r: {
                "priority": _field(r, "priority", "", _U16),
                "weight": _field(r, "weight", "", _U16),
                "port": _field(r, "port", "", _U16),
                "target": _field(r, "target", "domain"),
            },
        ),
        [],
    ),
    "TXT": RecordKind("TXTRecords", _txt_records, []),
}
_RECORD_KEYS = {kind.key: record_type for record_type, kind in RECORD_KINDS.items()} | {"SOARecord": "SOA"}


def _reject_other_kinds(record_type: str, props: dict[str, Any]) -> None:
    """A record set of one type holding another type's records (non-empty) is refused."""
    for key, other in _RECORD_KEYS.items():
        if other != record_type and props.get(key) not in (None, [], {}):
            # Guess: the code and wording (the spec documents no error for it).
            raise bad_request(
                f"A {record_type} record set cannot hold {other} records ('{key}').", "InvalidRequestContent"
            )


def _check_conditions(request: ArmRequest, current: Resource | None, what: str) -> None:
    """If-Match names the current ETag (or `*`: it exists); If-None-Match `*`: it must not exist."""
    if request.if_none_match is not None and request.if_none_match.strip() == "*" and current is not None:
        raise _precondition_failed(f"The {what} already exists (If-None-Match: *).")
    if request.if_match is None:
        return
    wanted = request.if_match.strip().removeprefix("W/").strip('"')
    if current is None:
        raise _precondition_failed(f"The {what} does not exist, so it cannot match the ETag in If-Match.")
    if wanted != "*" and wanted != current.body.get("etag"):
        raise _precondition_failed(f"The {what} has changed: its ETag does not match If-Match.")


def _precondition_failed(message: str) -> ArmError:
    return ArmError(412, "PreconditionFailed", message)


def _writable(request: ArmRequest) -> tuple[str, str]:
    _, record_type, name = request.target.names
    label = name.lower().rstrip(".")
    if record_type == "SOA" or (record_type == "NS" and label == "@"):
        raise bad_request(f"The emulator keeps the zone's apex {record_type} record set read-only.")
    if record_type not in RECORD_KINDS:
        # Guess: the code; the spec's RecordType enum names the types, an unknown one fails validation.
        raise bad_request(f"The record type '{record_type[:10]}' is not supported.", "InvalidRequestContent")
    if label != "@" and not RECORD_NAME.match(label):
        raise bad_request(
            f"The record set name '{name[:253]}' is not a valid relative DNS name.", "InvalidRecordSetName"
        )
    return record_type, label


def _require_zone(state: ArmState, request: ArmRequest) -> Resource:
    target = request.target
    group = target.resource_group or ""
    require_group(state, target.subscription, group)
    zone = state.store.get(provider_id(target.subscription, group, ZONE_TYPE, target.names[0].rstrip(".")))
    if zone is None:
        raise resource_not_found(ZONE_TYPE, target.names[0], group)
    return zone


def _require_record_set(state: ArmState, request: ArmRequest, zone: Resource) -> Resource:
    _, record_type, name = request.target.names
    record = state.store.get(f"{zone.id}/{record_type}/{name.rstrip('.')}")
    if record is None:
        # Guess: Azure DNS's wording for a missing record set.
        raise ArmError(
            404,
            "NotFound",
            f"The resource record '{name}' does not exist in resource group "
            f"'{request.target.resource_group}' of subscription '{request.target.subscription}'.",
        )
    return record


def _record_sets(store: ResourceStore, zone: Resource) -> list[Resource]:
    return [r for t in sorted([*RECORD_KINDS, "SOA"]) for r in store.children(zone.id, f"{ZONE_TYPE}/{t}")]


def _add_apex_records(store: ResourceStore, zone: Resource) -> None:
    apex = f"{zone.body['name']}."
    common = {"fqdn": apex, "provisioningState": "Succeeded", "targetResource": {}}
    store.put(
        Resource(
            {
                "id": f"{zone.id}/NS/@",
                "name": "@",
                "type": f"{ZONE_TYPE}/NS",
                "etag": str(uuid.uuid4()),
                "properties": {**common, "TTL": 172800, "NSRecords": [{"nsdname": ns} for ns in _NAME_SERVERS]},
            }
        )
    )
    store.put(
        Resource(
            {
                "id": f"{zone.id}/SOA/@",
                "name": "@",
                "type": f"{ZONE_TYPE}/SOA",
                "etag": str(uuid.uuid4()),
                "properties": {
                    **common,
                    "TTL": 3600,
                    "SOARecord": {
                        "host": _NAME_SERVERS[0],
                        "email": "azuredns-hostmaster.microsoft.com",
                        "serialNumber": 1,
                        "refreshTime": 3600,
                        "retryTime": 300,
                        "expireTime": 2419200,
                        "minimumTTL": 300,
                    },
                },
            }
        )
    )
