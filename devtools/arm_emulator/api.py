"""One table from operation name to handler, and list paging with ARM's `nextLink`.

The skiptoken is the last id returned, so resources added or removed between pages neither
repeat nor shift entries.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from devtools.arm_emulator import certificates, dns, resources, web_apps
from devtools.arm_emulator.context import ArmRequest, ArmState
from devtools.arm_emulator.errors import bad_request
from devtools.arm_emulator.store import Resource
from devtools.emulator_http import Reply

Handler = Callable[[ArmState, ArmRequest], Reply]
Lister = Callable[[ArmState, ArmRequest], list[Resource] | list[dict[str, Any]]]

HANDLERS: dict[str, Handler] = {
    "resourceGroups.put": resources.put_group,
    "resourceGroups.get": resources.get_group,
    "resourceGroups.head": resources.head_group,
    "resourceGroups.delete": resources.delete_group,
    "vaults.get": resources.get_vault,
    "serverfarms.put": web_apps.put_plan,
    "serverfarms.get": web_apps.get_plan,
    "serverfarms.delete": web_apps.delete_plan,
    "sites.put": web_apps.put_site,
    "sites.get": web_apps.get_app,
    "sites.delete": web_apps.delete_app,
    "sites.slots.put": web_apps.put_slot,
    "sites.slots.get": web_apps.get_app,
    "sites.slots.delete": web_apps.delete_app,
    "sites.hostNameBindings.put": web_apps.put_binding,
    "sites.hostNameBindings.get": web_apps.get_binding,
    "sites.hostNameBindings.delete": web_apps.delete_binding,
    "sites.slots.hostNameBindings.put": web_apps.put_binding,
    "sites.slots.hostNameBindings.get": web_apps.get_binding,
    "sites.slots.hostNameBindings.delete": web_apps.delete_binding,
    "certificates.put": certificates.put_certificate,
    "certificates.get": certificates.get_certificate,
    "certificates.delete": certificates.delete_certificate,
    "dnsZones.put": dns.put_zone,
    "dnsZones.get": dns.get_zone,
    "dnsZones.delete": dns.delete_zone,
    "dnsZones.recordSets.put": dns.put_record_set,
    "dnsZones.recordSets.patch": dns.patch_record_set,
    "dnsZones.recordSets.get": dns.get_record_set,
    "dnsZones.recordSets.delete": dns.delete_record_set,
}

LISTERS: dict[str, Lister] = {
    "resourceGroups.list": resources.list_groups,
    "serverfarms.list": web_apps.list_plans,
    "serverfarms.listByResourceGroup": web_apps.list_plans,
    "sites.list": web_apps.list_sites,
    "sites.listByResourceGroup": web_apps.list_sites,
    "sites.slots.list": web_apps.list_slots,
    "sites.hostNameBindings.list": web_apps.list_bindings,
    "sites.slots.hostNameBindings.list": web_apps.list_bindings,
    "certificates.list": certificates.list_certificates,
    "certificates.listByResourceGroup": certificates.list_certificates,
    "dnsZones.list": dns.list_zones,
    "dnsZones.listByResourceGroup": dns.list_zones,
    "dnsZones.recordSets.listByType": dns.list_record_sets,
    "dnsZones.recordSets.listByDnsZone": dns.list_record_sets,
    "dnsZones.recordSets.listAllByDnsZone": dns.list_record_sets,
}


def handle(state: ArmState, request: ArmRequest) -> Reply:
    operation = request.target.operation
    lister = LISTERS.get(operation)
    if lister is None:
        return HANDLERS[operation](state, request)
    items = [item.body if isinstance(item, Resource) else item for item in lister(state, request)]
    return Reply(200, _page(items, _page_size(state, request), request))


def _page_size(state: ArmState, request: ArmRequest) -> int:
    """Azure DNS lists take $top; guess: it caps each page, and nextLink keeps it."""
    raw = request.query.get("$top")
    if raw is None or not request.target.kind.startswith("dnsZones"):
        return state.page_size
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise bad_request(f"The value '{raw[:20]}' is not valid for $top; use 1..1000.", "InvalidTopValue")
    return int(raw)


def _page(items: list[dict[str, Any]], size: int, request: ArmRequest) -> dict[str, Any]:
    token = request.query.get("$skiptoken")
    after = _decode(token, request) if token is not None else None
    ordered = sorted(items, key=lambda item: str(item["id"]).lower())
    remaining = [item for item in ordered if after is None or str(item["id"]).lower() > after]
    chosen = remaining[:size]
    page: dict[str, Any] = {"value": chosen}
    if len(remaining) > size:
        marker = base64.urlsafe_b64encode(str(chosen[-1]["id"]).lower().encode("utf-8")).decode("ascii")
        query = {k: v for k, v in request.query.items() if k not in ("$skiptoken", "api-version")}
        query = {"api-version": request.api_version, **query, "$skiptoken": marker}
        page["nextLink"] = f"{request.base_url}{quote(request.path)}?{urlencode(query, safe='$')}"
    return page


def _decode(token: str, request: ArmRequest) -> str:
    """The last id of the previous page. One that is not a resource id in the request's
    subscription was never handed out by this list: 400 (guess: ARM's tokens are opaque and it
    refuses one it cannot read with InvalidSkipToken; a forged one used to give an empty page).
    One that decodes but sorts past the end gives an empty page."""
    invalid = bad_request("The $skiptoken parameter is invalid.", "InvalidSkipToken")
    try:
        marker = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        raise invalid from None
    subscription = "/".join(request.path.lower().split("/")[:3])  # "/subscriptions/<id>"
    if not marker.startswith(subscription + "/") or marker != marker.lower():
        raise invalid
    return marker
