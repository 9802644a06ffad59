"""One table from operation name to handler, and list paging with ARM's `nextLink`.

The skiptoken is the last id returned, so resources added or removed between pages neither
repeat nor shift entries.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from devtools.arm_emulator import certificates, resources, web_apps
from devtools.arm_emulator.context import ArmRequest, ArmState
from devtools.arm_emulator.errors import bad_request
from devtools.arm_emulator.store import Resource
from devtools.kv_emulator.wire import Reply

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
}


def handle(state: ArmState, request: ArmRequest) -> Reply:
    operation = request.target.operation
    lister = LISTERS.get(operation)
    if lister is None:
        return HANDLERS[operation](state, request)
    items = [item.body if isinstance(item, Resource) else item for item in lister(state, request)]
    return Reply(200, _page(items, state.page_size, request))


def _page(items: list[dict[str, Any]], size: int, request: ArmRequest) -> dict[str, Any]:
    token = request.query.get("$skiptoken")
    after = _decode(token) if token is not None else None
    ordered = sorted(items, key=lambda item: str(item["id"]).lower())
    remaining = [item for item in ordered if after is None or str(item["id"]).lower() > after]
    chosen = remaining[:size]
    page: dict[str, Any] = {"value": chosen}
    if len(remaining) > size:
        marker = base64.urlsafe_b64encode(str(chosen[-1]["id"]).lower().encode("utf-8")).decode("ascii")
        page["nextLink"] = (
            f"{request.base_url}{quote(request.path)}?api-version={request.api_version}&$skiptoken={marker}"
        )
    return page


def _decode(token: str) -> str:
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        raise bad_request("The $skiptoken parameter is invalid.", "InvalidSkipToken") from None
