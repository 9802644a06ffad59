"""Microsoft.Web/certificates: import from Key Vault (or an uploaded PFX) as App Service does.

A PUT naming keyVaultId/keyVaultSecretName reads the secret's latest version through the Key
Vault emulator; a re-PUT therefore picks up a renewal. The outcome is keyVaultSecretStatus.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from devtools.arm_emulator import keyvault
from devtools.arm_emulator.context import ArmRequest, ArmState
from devtools.arm_emulator.errors import bad_request, conflict
from devtools.arm_emulator.keyvault import SecretRead
from devtools.arm_emulator.pfx import CertificateFacts, PfxError, load_pfx
from devtools.arm_emulator.resources import (
    check_name,
    group_id,
    local_vault_id,
    provider_id,
    require,
    require_group,
    require_location,
    same_location,
    tags_of,
)
from devtools.arm_emulator.store import Resource, ResourceStore
from devtools.emulator_http import Reply

log = logging.getLogger("devtools.arm_emulator")

CERTIFICATE_TYPE = "Microsoft.Web/certificates"
BINDING_TYPES = ("Microsoft.Web/sites/hostNameBindings", "Microsoft.Web/sites/slots/hostNameBindings")


def certificate_id(subscription: str, group: str, name: str) -> str:
    return provider_id(subscription, group, CERTIFICATE_TYPE, name)


def find_by_thumbprint(
    store: ResourceStore, subscription: str, group: str, location: str, thumbprint: str
) -> Resource | None:
    """The certificate with this thumbprint in a webspace (resource group + region)."""
    for cert in store.children(group_id(subscription, group), CERTIFICATE_TYPE):
        same_print = str(cert.properties.get("thumbprint") or "").upper() == thumbprint.upper()
        if same_print and same_location(cert.body["location"], location):
            return cert
    return None


def bindings_using(
    store: ResourceStore, subscription: str, group: str, location: str, thumbprint: str
) -> list[Resource]:
    """Hostname bindings of apps in the webspace that point at this thumbprint."""
    found = []
    for binding_type in BINDING_TYPES:
        for binding in store.children(group_id(subscription, group), binding_type):
            if str(binding.properties.get("thumbprint") or "").upper() != thumbprint.upper():
                continue
            app = store.get(binding.id.rsplit("/hostNameBindings/", 1)[0])
            if app is not None and same_location(app.body["location"], location):
                found.append(binding)
    return found


def put_certificate(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    group, name = target.resource_group or "", target.names[0]
    check_name(name, "certificate")
    require_group(state, target.subscription, group)
    body = request.json_object()
    location = require_location(body)
    props = request.properties(body)
    cert_id = certificate_id(target.subscription, group, name)
    existing = state.store.get(cert_id)
    if existing is not None and not same_location(existing.body["location"], location):
        raise bad_request(
            f"The certificate '{name}' exists in '{existing.body['location']}'; its location cannot change."
        )
    server_farm_id = props.get("serverFarmId")
    if server_farm_id is not None and (not isinstance(server_farm_id, str) or state.store.get(server_farm_id) is None):
        # Guess: the Web provider's wording for a serverFarmId that names no plan.
        raise bad_request(f"The server farm '{server_farm_id}' was not found.", "NotFound")

    # Guess: hostNames in the request are ignored; the certificate's own names are reported.
    new_props: dict[str, Any] = {"friendlyName": "", "serverFarmId": server_farm_id}
    if props.get("keyVaultId") is not None or props.get("keyVaultSecretName") is not None:
        read = _read_from_vault(state, props)
        if read.status != keyvault.SUCCEEDED:
            log.info("certificate %s: %s (%s)", name, read.status, read.reason)
        new_props.update(keyVaultId=props["keyVaultId"], keyVaultSecretName=props["keyVaultSecretName"])
        new_props["keyVaultSecretStatus"] = read.status
        facts, pfx = read.facts, read.pfx
        if facts is None and existing is not None and existing.pfx is not None:
            # Guess: a failed re-read keeps serving the last imported version; the status tells why.
            facts, _ = load_pfx(existing.pfx)
            pfx = existing.pfx
    elif props.get("pfxBlob") is not None:
        facts, pfx = _uploaded(props)
    else:
        raise bad_request("Give either pfxBlob (with password) or keyVaultId and keyVaultSecretName.")
    if facts is not None:
        new_props.update(_facts_json(facts))
        _check_unique_thumbprint(state, target.subscription, group, location, cert_id, facts.thumbprint)

    old_thumbprint = str(existing.properties.get("thumbprint") or "") if existing else ""
    resource = Resource(
        {
            "id": existing.id if existing else cert_id,
            "name": existing.body["name"] if existing else name,
            "type": CERTIFICATE_TYPE,
            "location": existing.body["location"] if existing else location,
            "tags": tags_of(body),
            "properties": {k: v for k, v in new_props.items() if v is not None},
        },
        pfx=pfx,
    )
    if old_thumbprint and facts is not None and facts.thumbprint != old_thumbprint:
        # Guess: App Service moves bindings along when a Key Vault certificate's version changes.
        for binding in bindings_using(state.store, target.subscription, group, location, old_thumbprint):
            binding.properties["thumbprint"] = facts.thumbprint
            state.store.touch()
    state.store.put(resource)
    return Reply(200, resource.body)


def get_certificate(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    group, name = target.resource_group or "", target.names[0]
    return Reply(
        200, require(state, certificate_id(target.subscription, group, name), CERTIFICATE_TYPE, name, group).body
    )


def delete_certificate(state: ArmState, request: ArmRequest) -> Reply:
    target = request.target
    cert = state.store.get(certificate_id(target.subscription, target.resource_group or "", target.names[0]))
    if cert is None:
        return Reply(204)
    thumbprint = str(cert.properties.get("thumbprint") or "")
    in_use = thumbprint and bindings_using(
        state.store, target.subscription, target.resource_group or "", cert.body["location"], thumbprint
    )
    if in_use:
        # Guess: wording of App Service's refusal to delete a certificate an SSL binding uses.
        hosts = ", ".join(b.body["name"] for b in in_use)
        raise conflict(f"Certificate '{cert.body['name']}' is used by the SSL binding(s) {hosts}; remove them first.")
    state.store.delete_tree(cert.id)
    return Reply(200)


def list_certificates(state: ArmState, request: ArmRequest) -> list[Resource]:
    target = request.target
    if target.resource_group is None:
        found = state.store.children(f"/subscriptions/{target.subscription}", CERTIFICATE_TYPE)
    else:
        require_group(state, target.subscription, target.resource_group)
        found = state.store.children(group_id(target.subscription, target.resource_group), CERTIFICATE_TYPE)
    return _filtered(found, request.query.get("$filter"))


# The spec's one example of Certificates_List's $filter: "KeyVaultId eq '<vault resource id>'".
_KEY_VAULT_FILTER = re.compile(r"^\s*KeyVaultId\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


def _filtered(certificates: list[Resource], odata: str | None) -> list[Resource]:
    """Certificates importing from one vault; guess: any other filter is refused, not silently ignored."""
    if not odata:
        return certificates
    matched = _KEY_VAULT_FILTER.match(odata)
    if matched is None:
        raise bad_request(
            f"The $filter '{odata[:100]}' is not supported; use KeyVaultId eq '<vault id>'.", "InvalidFilter"
        )
    vault_id = matched.group(1).lower()
    return [c for c in certificates if str(c.body["properties"].get("keyVaultId") or "").lower() == vault_id]


def _read_from_vault(state: ArmState, props: dict[str, Any]) -> SecretRead:
    vault_id, secret_name = props.get("keyVaultId"), props.get("keyVaultSecretName")
    if not isinstance(vault_id, str) or not isinstance(secret_name, str) or not vault_id or not secret_name:
        raise bad_request("keyVaultId and keyVaultSecretName must both be given as strings.")
    # Guess: a vault ARM does not know is a status, not a 400 on the PUT.
    reader = state.reader_for(vault_id, local_vault_id())
    if reader is None:
        return SecretRead(keyvault.VAULT_MISSING, reason="the emulator does not know this vault")
    if not state.vault_access:
        return SecretRead(keyvault.UNAUTHORIZED, reason="App Service's principal has no access to the vault")
    return reader.read(secret_name)


def _uploaded(props: dict[str, Any]) -> tuple[CertificateFacts, str]:
    blob, password = props.get("pfxBlob"), props.get("password")
    if not isinstance(blob, str) or (password is not None and not isinstance(password, str)):
        raise bad_request("pfxBlob and password must be strings.")
    try:
        facts, _ = load_pfx(blob, password)
    except PfxError as err:
        # Guess: wording of the Web provider's refusal of an unreadable upload.
        raise bad_request(f"The certificate could not be imported: {err}.") from None
    return facts, blob


def _check_unique_thumbprint(
    state: ArmState, subscription: str, group: str, location: str, cert_id: str, thumbprint: str
) -> None:
    other = find_by_thumbprint(state.store, subscription, group, location, thumbprint)
    if other is not None and other.id.lower() != cert_id.lower():
        raise conflict(
            f"Another certificate exists with same thumbprint {thumbprint} at location {location} in the "
            f"Resource Group {group}."
        )


def _facts_json(facts: CertificateFacts) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "subjectName": facts.subject_name,
        "hostNames": list(facts.host_names),
        "issuer": facts.issuer,
        "issueDate": facts.issue_date.isoformat(),
        "expirationDate": facts.expiration_date.isoformat(),
        "thumbprint": facts.thumbprint,
        "publicKeyHash": facts.public_key_hash,
        "valid": facts.issue_date <= now <= facts.expiration_date,
    }
