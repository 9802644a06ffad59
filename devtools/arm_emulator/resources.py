"""What every ARM resource shares: ids, names, locations, tags, resource groups, and the local vault."""

from __future__ import annotations

from typing import Any

from devtools.arm_emulator.context import ArmRequest, ArmState
from devtools.arm_emulator.errors import ArmError, bad_request, conflict, resource_group_not_found, resource_not_found
from devtools.arm_emulator.protocol import (
    LOCAL_LOCATION,
    LOCAL_SUBSCRIPTION_ID,
    LOCAL_VAULT_NAME,
    LOCAL_VAULT_RESOURCE_GROUP,
    RESOURCE_NAME,
)
from devtools.arm_emulator.routes import RESOURCE_GROUP_TYPE
from devtools.arm_emulator.store import Resource, ResourceStore
from devtools.emulator_http import Reply


def group_id(subscription: str, group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}"


def provider_id(subscription: str, group: str, provider_type: str, name: str) -> str:
    return f"{group_id(subscription, group)}/providers/{provider_type}/{name}"


def local_vault_id(name: str = LOCAL_VAULT_NAME) -> str:
    """A vault the emulator knows (`local`, or an --extra-key-vault name) in the certsync-local group."""
    return provider_id(LOCAL_SUBSCRIPTION_ID, LOCAL_VAULT_RESOURCE_GROUP, "Microsoft.KeyVault/vaults", name)


def same_location(a: str, b: str) -> bool:
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


def check_name(name: str, what: str) -> None:
    if not RESOURCE_NAME.match(name):
        raise bad_request(f"The {what} name '{name[:100]}' is invalid.", "InvalidResourceName")


def require_location(body: dict[str, Any]) -> str:
    location = body.get("location")
    if not isinstance(location, str) or not location.strip():
        raise bad_request("The location property is required for this definition.", "LocationRequired")
    return location


def tags_of(body: dict[str, Any]) -> dict[str, str]:
    tags = body.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise bad_request("The 'tags' member must be an object of strings.", "InvalidRequestContent")
    return tags


def require_group(state: ArmState, subscription: str, group: str) -> Resource:
    resource = state.store.get(group_id(subscription, group))
    if resource is None:
        raise resource_group_not_found(group)
    return resource


def require(state: ArmState, resource_id: str, resource_type: str, name: str, group: str) -> Resource:
    resource = state.store.get(resource_id)
    if resource is None:
        raise resource_not_found(resource_type, name, group)
    return resource


# -- resource groups ----------------------------------------------------------------------


def put_group(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    name = target.resource_group or ""
    check_name(name, "resource group")
    body = request.json_object()
    location = require_location(body)
    existing = state.store.get(group_id(target.subscription, name))
    if existing is not None and not same_location(existing.body["location"], location):
        raise ArmError(
            409,
            "InvalidResourceGroupLocation",
            f"Invalid resource group location '{location}'. The Resource group already exists in location "
            f"'{existing.body['location']}'.",
        )
    resource = Resource(
        {
            "id": existing.id if existing else group_id(target.subscription, name),
            "name": existing.body["name"] if existing else name,
            "type": RESOURCE_GROUP_TYPE,
            "location": existing.body["location"] if existing else location,
            "tags": tags_of(body),
            "properties": {"provisioningState": "Succeeded"},
        }
    )
    state.store.put(resource)
    return Reply(200 if existing else 201, resource.body)


def get_group(state: ArmState, request: ArmRequest) -> Reply:
    return Reply(200, require_group(state, request.target.subscription, request.target.resource_group or "").body)


def head_group(state: ArmState, request: ArmRequest) -> Reply:
    found = state.store.get(group_id(request.target.subscription, request.target.resource_group or ""))
    return Reply(204 if found else 404)


def delete_group(state: ArmState, request: ArmRequest) -> Reply:
    # Simplification: ARM deletes a group asynchronously (202 + Location); here it is gone at once.
    resource = state.store.get(group_id(request.target.subscription, request.target.resource_group or ""))
    if resource is None:
        raise resource_group_not_found(request.target.resource_group or "")
    if resource.id.lower() == group_id(LOCAL_SUBSCRIPTION_ID, LOCAL_VAULT_RESOURCE_GROUP).lower():
        raise conflict("The local Key Vault's resource group belongs to the emulator and cannot be deleted.")
    state.store.delete_tree(resource.id)
    return Reply(200)


def list_groups(state: ArmState, request: ArmRequest) -> list[Resource]:
    prefix = f"/subscriptions/{request.target.subscription}"
    return state.store.children(prefix, RESOURCE_GROUP_TYPE)


def get_vault(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    vault_id = provider_id(
        target.subscription, target.resource_group or "", "Microsoft.KeyVault/vaults", target.names[0]
    )
    return Reply(
        200, require(state, vault_id, "Microsoft.KeyVault/vaults", target.names[0], target.resource_group or "").body
    )


def seed_local_vault(store: ResourceStore, vault_url: str | None, extra: dict[str, str] | None = None) -> None:
    """The resource group and vaults that name the local Key Vault emulators to ARM."""
    if vault_url is None:
        return
    with store.transaction():
        if store.get(group_id(LOCAL_SUBSCRIPTION_ID, LOCAL_VAULT_RESOURCE_GROUP)) is None:
            store.put(
                Resource(
                    {
                        "id": group_id(LOCAL_SUBSCRIPTION_ID, LOCAL_VAULT_RESOURCE_GROUP),
                        "name": LOCAL_VAULT_RESOURCE_GROUP,
                        "type": RESOURCE_GROUP_TYPE,
                        "location": LOCAL_LOCATION,
                        "tags": {},
                        "properties": {"provisioningState": "Succeeded"},
                    }
                )
            )
        for name, url in {LOCAL_VAULT_NAME: vault_url, **(extra or {})}.items():
            store.put(_vault_resource(name, url))


def _vault_resource(name: str, vault_url: str) -> Resource:
    return Resource(
        {
            "id": local_vault_id(name),
            "name": name,
            "type": "Microsoft.KeyVault/vaults",
            "location": LOCAL_LOCATION,
            "tags": {},
            "properties": {
                "vaultUri": vault_url.rstrip("/") + "/",
                "tenantId": "00000000-0000-4000-8000-00000000c0de",
                "sku": {"family": "A", "name": "standard"},
                "enableRbacAuthorization": True,
                "provisioningState": "Succeeded",
            },
        }
    )
