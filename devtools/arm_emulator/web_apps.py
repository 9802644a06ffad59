"""Microsoft.Web serverfarms, sites, slots and hostname bindings, with App Service's binding rules.

A binding with a thumbprint needs a certificate with that thumbprint in the app's webspace
(its resource group and region) whose names cover the hostname.
"""

from __future__ import annotations

from typing import Any

from devtools.arm_emulator.certificates import find_by_thumbprint
from devtools.arm_emulator.context import ArmRequest, ArmState
from devtools.arm_emulator.errors import bad_request, conflict, resource_not_found
from devtools.arm_emulator.pfx import covers
from devtools.arm_emulator.protocol import DEFAULT_HOST_SUFFIX, HOST_NAME
from devtools.arm_emulator.resources import (
    check_name,
    group_id,
    provider_id,
    require,
    require_group,
    require_location,
    same_location,
    tags_of,
)
from devtools.arm_emulator.store import Resource, ResourceStore
from devtools.emulator_http import Reply

PLAN_TYPE = "Microsoft.Web/serverfarms"
SITE_TYPE = "Microsoft.Web/sites"
SLOT_TYPE = "Microsoft.Web/sites/slots"
SITE_BINDING_TYPE = "Microsoft.Web/sites/hostNameBindings"
SLOT_BINDING_TYPE = "Microsoft.Web/sites/slots/hostNameBindings"
SSL_STATES = {"disabled": "Disabled", "snienabled": "SniEnabled", "ipbasedenabled": "IpBasedEnabled"}
_DEFAULT_SKU = {"name": "B1", "tier": "Basic", "size": "B1", "family": "B", "capacity": 1}


# -- serverfarms ---------------------------------------------------------------------------


def put_plan(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    group, name = target.resource_group or "", target.names[0]
    check_name(name, "server farm")
    require_group(state, target.subscription, group)
    body = request.json_object()
    location = require_location(body)
    props = request.properties(body)
    plan_id = provider_id(target.subscription, group, PLAN_TYPE, name)
    existing = state.store.get(plan_id)
    if existing is not None and not same_location(existing.body["location"], location):
        raise bad_request(
            f"The server farm '{name}' exists in '{existing.body['location']}'; its location cannot change."
        )
    sku = body.get("sku") if isinstance(body.get("sku"), dict) else _DEFAULT_SKU
    resource = Resource(
        {
            "id": existing.id if existing else plan_id,
            "name": existing.body["name"] if existing else name,
            "type": PLAN_TYPE,
            "kind": body.get("kind") or "app",
            "location": existing.body["location"] if existing else location,
            "tags": tags_of(body),
            "sku": sku,
            "properties": {
                "status": "Ready",
                "provisioningState": "Succeeded",
                "reserved": bool(props.get("reserved", False)),
                "geoRegion": location,
                "resourceGroup": group,
                "maximumNumberOfWorkers": 30,
            },
        }
    )
    state.store.put(resource)
    # Done at once unless the long-running switch is on (long_running.py answers 202 around this).
    return Reply(200, plan_view(state.store, resource))


def get_plan(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    group, name = target.resource_group or "", target.names[0]
    plan = require(state, provider_id(target.subscription, group, PLAN_TYPE, name), PLAN_TYPE, name, group)
    return Reply(200, plan_view(state.store, plan))


def delete_plan(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    plan = state.store.get(provider_id(target.subscription, target.resource_group or "", PLAN_TYPE, target.names[0]))
    if plan is None:
        return Reply(204)
    if _apps_on(state.store, plan.id):
        raise conflict(f"Server farm '{plan.body['name']}' cannot be deleted because it has web app(s) assigned to it.")
    state.store.delete_tree(plan.id)
    return Reply(200)


def list_plans(state: ArmState, request: ArmRequest) -> list[dict[str, Any]]:
    return [plan_view(state.store, p) for p in _listed(state, request, PLAN_TYPE)]


def plan_view(store: ResourceStore, plan: Resource) -> dict[str, Any]:
    view = dict(plan.body)
    view["properties"] = {**plan.properties, "numberOfSites": len(_apps_on(store, plan.id, sites_only=True))}
    return view


def _apps_on(store: ResourceStore, plan_id: str, sites_only: bool = False) -> list[Resource]:
    types = (SITE_TYPE,) if sites_only else (SITE_TYPE, SLOT_TYPE)
    subscription_scope = "/".join(plan_id.split("/")[:3])
    return [
        app
        for app_type in types
        for app in store.children(subscription_scope, app_type)
        if str(app.properties.get("serverFarmId", "")).lower() == plan_id.lower()
    ]


# -- sites and slots -----------------------------------------------------------------------


def put_site(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    group, name = target.resource_group or "", target.names[0]
    check_name(name, "site")
    require_group(state, target.subscription, group)
    body = request.json_object()
    location = require_location(body)
    site_id = provider_id(target.subscription, group, SITE_TYPE, name)
    existing = state.store.get(site_id)
    if existing is None:
        for other in state.store.all_of_type(SITE_TYPE):
            if other.body["name"].lower() == name.lower():  # *.azurewebsites.net names are global
                raise conflict(f"Website with given name {name} already exists.")
    resource = _app_resource(state, request, body, location, site_id, name, existing, parent=None)
    state.store.put(resource)
    # Done at once unless the long-running switch is on (long_running.py answers 202 around this).
    return Reply(200, app_view(state.store, resource))


def put_slot(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    _group, (_site_name, slot_name) = target.resource_group or "", target.names
    check_name(slot_name, "slot")
    site = _require_site(state, request)
    body = request.json_object()
    location = body.get("location") or site.body["location"]  # Guess: a slot may omit its site's location
    slot_id = f"{site.id}/slots/{slot_name}"
    existing = state.store.get(slot_id)
    resource = _app_resource(state, request, body, location, slot_id, slot_name, existing, parent=site)
    state.store.put(resource)
    return Reply(200, app_view(state.store, resource))


def get_app(state: ArmState, request: ArmRequest) -> Reply:
    return Reply(200, app_view(state.store, _require_app(state, request)))


def delete_app(state: ArmState, request: ArmRequest) -> Reply:
    """Deleting what is not there answers 204, as ARM does; a missing parent site is a 404."""
    target = request.target
    group = target.resource_group or ""
    require_group(state, target.subscription, group)
    site = state.store.get(_site_id(request))
    if site is None and target.kind != "sites":
        raise resource_not_found(SITE_TYPE, target.names[0], group)
    app = site if site is None or target.kind == "sites" else state.store.get(f"{site.id}/slots/{target.names[1]}")
    if app is None:
        return Reply(204)
    state.store.delete_tree(app.id)
    return Reply(200)


def list_sites(state: ArmState, request: ArmRequest) -> list[dict[str, Any]]:
    return [app_view(state.store, s) for s in _listed(state, request, SITE_TYPE)]


def list_slots(state: ArmState, request: ArmRequest) -> list[dict[str, Any]]:
    site = _require_site(state, request)
    return [app_view(state.store, s) for s in state.store.children(site.id, SLOT_TYPE)]


def app_view(store: ResourceStore, app: Resource) -> dict[str, Any]:
    """A site or slot with its hostnames and SSL states derived from its bindings."""
    default_host = app.properties["defaultHostName"]
    scm_host = default_host.replace(f".{DEFAULT_HOST_SUFFIX}", f".scm.{DEFAULT_HOST_SUFFIX}", 1)
    bindings = _bindings_of(store, app)
    host_names = [default_host, *(b.body["name"].rsplit("/", 1)[1] for b in bindings)]
    ssl_states = [
        {"name": default_host, "sslState": "Disabled", "hostType": "Standard"},
        {"name": scm_host, "sslState": "Disabled", "hostType": "Repository"},
    ]
    for binding in bindings:
        state = {"name": binding.body["name"].rsplit("/", 1)[1], "sslState": binding.properties["sslState"]}
        if binding.properties.get("thumbprint"):
            state["thumbprint"] = binding.properties["thumbprint"]
        ssl_states.append({**state, "hostType": "Standard"})
    view = dict(app.body)
    view["properties"] = {
        **app.properties,
        "hostNames": host_names,
        "enabledHostNames": [*host_names, scm_host],
        "hostNameSslStates": ssl_states,
    }
    return view


def _app_resource(
    state: ArmState,
    request: ArmRequest,
    body: dict[str, Any],
    location: str,
    app_id: str,
    name: str,
    existing: Resource | None,
    parent: Resource | None,
) -> Resource:
    target = request.target
    group = target.resource_group or ""
    props = request.properties(body)
    if existing is not None and not same_location(existing.body["location"], location):
        raise bad_request(f"The app '{name}' exists in '{existing.body['location']}'; its location cannot change.")
    inherited = parent.properties.get("serverFarmId") if parent else None
    plan_id = props.get("serverFarmId") or (existing.properties["serverFarmId"] if existing else inherited)
    plan = state.store.get(plan_id) if isinstance(plan_id, str) else None
    if plan is None or not plan.id.lower().startswith(group_id(target.subscription, group).lower() + "/"):
        # Simplification: the plan must be in the app's resource group (real ARM allows any group
        # of the same webspace).
        raise bad_request(f"The server farm '{plan_id}' was not found in resource group '{group}'.", "NotFound")
    if not same_location(plan.body["location"], location):
        raise bad_request(f"The app's location '{location}' differs from its server farm's '{plan.body['location']}'.")
    host_prefix = f"{parent.body['name']}-{name}" if parent else name
    return Resource(
        {
            "id": existing.id if existing else app_id,
            "name": existing.body["name"] if existing else (f"{parent.body['name']}/{name}" if parent else name),
            "type": SLOT_TYPE if parent else SITE_TYPE,
            "kind": body.get("kind") or "app",
            "location": existing.body["location"] if existing else location,
            "tags": tags_of(body),
            "properties": {
                "state": "Running",
                "enabled": True,
                "serverFarmId": plan.id,
                "resourceGroup": group,
                "defaultHostName": f"{host_prefix.lower()}.{DEFAULT_HOST_SUFFIX}",
                "repositorySiteName": parent.body["name"] if parent else name,
                "httpsOnly": bool(props.get("httpsOnly", existing.properties.get("httpsOnly") if existing else False)),
                "usageState": "Normal",
                "availabilityState": "Normal",
                "clientCertEnabled": False,
            },
        }
    )


def _site_id(request: ArmRequest) -> str:
    target = request.target
    return provider_id(target.subscription, target.resource_group or "", SITE_TYPE, target.names[0])


def _require_site(state: ArmState, request: ArmRequest) -> Resource:
    target = request.target
    group = target.resource_group or ""
    require_group(state, target.subscription, group)
    return require(state, _site_id(request), SITE_TYPE, target.names[0], group)


def _require_app(state: ArmState, request: ArmRequest) -> Resource:
    """The site, or the slot when the path names one (kinds sites.slots*)."""
    site = _require_site(state, request)
    if not request.target.kind.startswith("sites.slots"):
        return site
    slot_name = request.target.names[1]
    slot = state.store.get(f"{site.id}/slots/{slot_name}")
    if slot is None:
        raise resource_not_found(SLOT_TYPE, f"{site.body['name']}/{slot_name}", request.target.resource_group or "")
    return slot


def _listed(state: ArmState, request: ArmRequest, resource_type: str) -> list[Resource]:
    target = request.target
    if target.resource_group is None:
        return state.store.children(f"/subscriptions/{target.subscription}", resource_type)
    require_group(state, target.subscription, target.resource_group)
    return state.store.children(group_id(target.subscription, target.resource_group), resource_type)


# -- hostname bindings ---------------------------------------------------------------------


def put_binding(state: ArmState, request: ArmRequest) -> Reply:
    app = _require_app(state, request)
    host = _host_name(request)
    if host == app.properties["defaultHostName"]:  # Guess: the default binding cannot be changed this way
        raise bad_request(f"The hostname '{host}' is the app's default hostname; App Service manages its binding.")
    for binding_type in (SITE_BINDING_TYPE, SLOT_BINDING_TYPE):
        for other in state.store.all_of_type(binding_type):
            if other.body["name"].rsplit("/", 1)[1] == host and not other.id.lower().startswith(app.id.lower() + "/"):
                # Guess: wording of the Web provider's refusal of a hostname another app holds.
                raise conflict(f"Hostname '{host}' already exists on another app ({other.body['name']}).")
    props = request.properties(request.json_object())
    ssl_state = SSL_STATES.get(str(props.get("sslState") or "Disabled").lower())
    if ssl_state is None:
        raise bad_request(f"sslState must be one of {', '.join(SSL_STATES.values())}.", "InvalidRequestContent")
    thumbprint = props.get("thumbprint") if ssl_state != "Disabled" else None
    if ssl_state != "Disabled":
        thumbprint = _checked_thumbprint(state, request, app, host, thumbprint)
    # Simplification: no DNS ownership check; any well-formed hostname may be added to an app.
    binding = Resource(_binding_body(app, host, "Verified", ssl_state, thumbprint))
    state.store.put(binding)
    return Reply(200, binding.body)


def get_binding(state: ArmState, request: ArmRequest) -> Reply:
    app = _require_app(state, request)
    host = _host_name(request)
    if host == app.properties["defaultHostName"]:
        return Reply(200, _default_binding(app))
    binding = state.store.get(f"{app.id}/hostNameBindings/{host}")
    if binding is None:
        raise resource_not_found(
            f"{app.type}/hostNameBindings", f"{app.body['name']}/{host}", app.properties["resourceGroup"]
        )
    return Reply(200, binding.body)


def delete_binding(state: ArmState, request: ArmRequest) -> Reply:
    app = _require_app(state, request)
    host = _host_name(request)
    if host == app.properties["defaultHostName"]:
        raise bad_request(f"The hostname '{host}' is the app's default hostname and cannot be removed.")
    binding = state.store.get(f"{app.id}/hostNameBindings/{host}")
    if binding is None:
        return Reply(204)
    state.store.delete_tree(binding.id)
    return Reply(200)


def list_bindings(state: ArmState, request: ArmRequest) -> list[dict[str, Any]]:
    app = _require_app(state, request)
    return [_default_binding(app), *(b.body for b in _bindings_of(state.store, app))]


def ssl_bindings(store: ResourceStore) -> list[tuple[Resource, Resource]]:
    """(app, binding) for every binding with SSL on, for the TLS front."""
    found = []
    for binding_type in (SITE_BINDING_TYPE, SLOT_BINDING_TYPE):
        for binding in store.all_of_type(binding_type):
            app = store.get(binding.id.rsplit("/hostNameBindings/", 1)[0])
            if app is not None and binding.properties.get("thumbprint"):
                found.append((app, binding))
    return found


def _bindings_of(store: ResourceStore, app: Resource) -> list[Resource]:
    binding_type = SLOT_BINDING_TYPE if app.type == SLOT_TYPE else SITE_BINDING_TYPE
    return store.children(app.id, binding_type)


def _default_binding(app: Resource) -> dict[str, Any]:
    return _binding_body(app, app.properties["defaultHostName"], "Managed", "Disabled", None)


def _binding_body(app: Resource, host: str, host_type: str, ssl_state: str, thumbprint: str | None) -> dict[str, Any]:
    """A hostname binding as the Web provider answers it (site or slot)."""
    return {
        "id": f"{app.id}/hostNameBindings/{host}",
        "name": f"{app.body['name']}/{host}",
        "type": f"{app.type}/hostNameBindings",
        "properties": {
            "siteName": app.body["name"],
            "azureResourceName": app.body["name"],
            "azureResourceType": "Website",
            "customHostNameDnsRecordType": "CName",
            "hostNameType": host_type,
            "sslState": ssl_state,
            **({"thumbprint": thumbprint} if thumbprint else {}),
        },
    }


def _host_name(request: ArmRequest) -> str:
    host = request.target.names[-1].lower().rstrip(".")
    if not HOST_NAME.match(host):
        raise bad_request(f"'{host[:253]}' is not a valid hostname.", "InvalidHostName")
    return host


def _checked_thumbprint(state: ArmState, request: ArmRequest, app: Resource, host: str, thumbprint: Any) -> str:
    if not isinstance(thumbprint, str) or not thumbprint.strip():
        raise bad_request("A thumbprint is required when sslState is SniEnabled or IpBasedEnabled.")
    group = app.properties["resourceGroup"]
    cert = find_by_thumbprint(state.store, request.target.subscription, group, app.body["location"], thumbprint.strip())
    if cert is None:
        # Guess: wording; the rule (same resource group and region as the app) is App Service's.
        raise bad_request(
            f"Certificate with thumbprint '{thumbprint.strip().upper()}' was not found in resource group '{group}' "
            f"and location '{app.body['location']}' (the app's webspace)."
        )
    # Guess: App Service does not refuse an expired certificate here; neither does the emulator.
    if not covers(cert.properties.get("hostNames") or [], host):
        raise bad_request(f"The certificate '{cert.body['name']}' does not cover the hostname '{host}'.")
    return str(cert.properties["thumbprint"])
