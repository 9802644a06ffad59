"""Microsoft.Network/dnsZones with TXT record sets, ETags and conditional writes, as azure-mgmt-dns drives them.

Every write gives the zone or record set a new ETag; If-Match / If-None-Match make writes
conditional (412 PreconditionFailed), which is how concurrent ACME DNS-01 updates stay safe.
A new zone has its apex SOA and NS record sets, read-only here.
"""

from __future__ import annotations

import uuid
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
_READ_ONLY_TYPES = ("SOA", "NS")
_MAX_TXT_RECORDS = 400  # Guess: Azure DNS documents record-set limits per zone, not TXT values per set.


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
    txt = _txt_records(props.get("TXTRecords")) if "TXTRecords" in props or replace else old.get("TXTRecords", [])
    fqdn = f"{zone.body['name']}." if name == "@" else f"{name}.{zone.body['name']}."
    properties: dict[str, Any] = {
        "TTL": ttl if ttl is not None else 3600,  # Guess: the TTL a record set gets when none is given
        "fqdn": fqdn,
        "provisioningState": "Succeeded",
        "targetResource": {},
        "TXTRecords": txt,
    }
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
    if record_type in _READ_ONLY_TYPES and request.method != "GET":
        raise bad_request(f"The emulator keeps the zone's {record_type} record set read-only.")
    if record_type != "TXT" and record_type not in _READ_ONLY_TYPES:
        raise ArmError(501, "NotImplemented", f"The emulator serves TXT record sets only, not {record_type[:10]}.")
    label = name.lower().rstrip(".")
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
    return [r for t in ("NS", "SOA", "TXT") for r in store.children(zone.id, f"{ZONE_TYPE}/{t}")]


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
