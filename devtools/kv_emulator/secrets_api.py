"""The Secrets API: which path and method is which operation, and one function per operation.

Operation names are the REST spec's operationIds in camelCase; they are also the keys of
/_emulator/counters and what a fault plan's "operations" list refers to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from devtools.emulator_http import Reply
from devtools.kv_emulator import paging, wire
from devtools.kv_emulator.backup import backup_blob, secret_from_blob
from devtools.kv_emulator.errors import (
    BadParameter,
    MethodNotAllowed,
    NotFound,
)
from devtools.kv_emulator.protocol import SECRET_NAME
from devtools.kv_emulator.vault import SecretVault


@dataclass(frozen=True)
class ApiRequest:
    """An authenticated Secrets API call with its path parameters already extracted."""

    base_url: str
    api_version: str
    query: Mapping[str, str]
    body: bytes
    name: str = ""
    version: str | None = None


Operation = Callable[[SecretVault, ApiRequest], Reply]


# -- operations -----------------------------------------------------------------------------


def set_secret(vault: SecretVault, request: ApiRequest) -> Reply:
    secret, version = vault.set(request.name, wire.parse_set_body(request.body))
    return Reply(200, wire.secret_bundle(request.base_url, secret, version, with_value=True))


def get_secret(vault: SecretVault, request: ApiRequest) -> Reply:
    secret, version = vault.get(request.name, request.version)
    return Reply(200, wire.secret_bundle(request.base_url, secret, version, with_value=True))


def update_secret(vault: SecretVault, request: ApiRequest) -> Reply:
    secret, version = vault.update(request.name, request.version, wire.parse_update_body(request.body))
    return Reply(200, wire.secret_bundle(request.base_url, secret, version, with_value=False))


def list_secrets(vault: SecretVault, request: ApiRequest) -> Reply:
    size, after = _paging(request)
    page = paging.take_page(vault.list_secrets(), lambda s: s.name.lower(), size, after)
    items = [wire.secret_item(request.base_url, s, s.latest, versioned=False) for s in page.items]
    return _page_reply(request, "/secrets", items, page.next_marker, size)


def list_secret_versions(vault: SecretVault, request: ApiRequest) -> Reply:
    size, after = _paging(request)
    # Versions keep creation order; the marker is the position, zero-padded to sort as text.
    numbered = [(f"{i:010d}", pair) for i, pair in enumerate(vault.list_versions(request.name))]
    page = paging.take_page(numbered, lambda entry: entry[0], size, after)
    items = [wire.secret_item(request.base_url, s, v, versioned=True) for _, (s, v) in page.items]
    return _page_reply(request, f"/secrets/{request.name}/versions", items, page.next_marker, size)


def delete_secret(vault: SecretVault, request: ApiRequest) -> Reply:
    return Reply(200, wire.deleted_bundle(request.base_url, vault.delete(request.name)))


def get_deleted_secret(vault: SecretVault, request: ApiRequest) -> Reply:
    return Reply(200, wire.deleted_bundle(request.base_url, vault.get_deleted(request.name)))


def list_deleted_secrets(vault: SecretVault, request: ApiRequest) -> Reply:
    size, after = _paging(request)
    page = paging.take_page(vault.list_deleted(), lambda s: s.name.lower(), size, after)
    items = [wire.deleted_item(request.base_url, s) for s in page.items]
    return _page_reply(request, "/deletedsecrets", items, page.next_marker, size)


def recover_deleted_secret(vault: SecretVault, request: ApiRequest) -> Reply:
    secret = vault.recover(request.name)
    return Reply(200, wire.secret_bundle(request.base_url, secret, secret.latest, with_value=False))


def purge_deleted_secret(vault: SecretVault, request: ApiRequest) -> Reply:
    vault.purge(request.name)
    return Reply(204)


def backup_secret(vault: SecretVault, request: ApiRequest) -> Reply:
    return Reply(200, {"value": backup_blob(vault.backup(request.name))})


def restore_secret(vault: SecretVault, request: ApiRequest) -> Reply:
    secret = vault.restore(secret_from_blob(wire.parse_restore_body(request.body)))
    return Reply(200, wire.secret_bundle(request.base_url, secret, secret.latest, with_value=False))


def _paging(request: ApiRequest) -> tuple[int, str | None]:
    size = paging.page_size(request.query.get("maxresults"))
    token = request.query.get("$skiptoken")
    return size, paging.decode_skiptoken(token) if token else None


def _page_reply(request: ApiRequest, path: str, items: list, marker: str | None, size: int) -> Reply:
    link = paging.next_link(request.base_url, path, request.api_version, marker, size)
    return Reply(200, {"value": items, "nextLink": link})


# -- routing --------------------------------------------------------------------------------

NAME = "{name}"
VERSION = "{version}"


@dataclass(frozen=True)
class Route:
    pattern: tuple[str, ...]
    methods: Mapping[str, tuple[str, Operation]]

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.pattern):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(self.pattern, segments, strict=False):
            if part in (NAME, VERSION):
                params[part] = segment
            elif part != segment.lower():
                return None
        return params


# Literal routes come before the parameter routes they overlap with ("restore", "versions").
ROUTES: tuple[Route, ...] = (
    Route(("secrets",), {"GET": ("listSecrets", list_secrets)}),
    Route(("secrets", "restore"), {"POST": ("restoreSecret", restore_secret)}),
    Route(
        ("secrets", NAME),
        {
            "GET": ("getSecret", get_secret),
            "PUT": ("setSecret", set_secret),
            "PATCH": ("updateSecret", update_secret),
            "DELETE": ("deleteSecret", delete_secret),
        },
    ),
    Route(("secrets", NAME, "versions"), {"GET": ("listSecretVersions", list_secret_versions)}),
    Route(("secrets", NAME, "backup"), {"POST": ("backupSecret", backup_secret)}),
    Route(("secrets", NAME, VERSION), {"GET": ("getSecret", get_secret), "PATCH": ("updateSecret", update_secret)}),
    Route(("deletedsecrets",), {"GET": ("listDeletedSecrets", list_deleted_secrets)}),
    Route(
        ("deletedsecrets", NAME),
        {"GET": ("getDeletedSecret", get_deleted_secret), "DELETE": ("purgeDeletedSecret", purge_deleted_secret)},
    ),
    Route(("deletedsecrets", NAME, "recover"), {"POST": ("recoverDeletedSecret", recover_deleted_secret)}),
)

OPERATION_NAMES: tuple[str, ...] = tuple(dict.fromkeys(op for route in ROUTES for op, _ in route.methods.values()))


@dataclass(frozen=True)
class RouteMatch:
    operation: str
    handler: Operation
    name: str
    version: str | None


def resolve(method: str, segments: list[str]) -> RouteMatch:
    """Find the operation for a path; a trailing slash means the same as none (SDK sends both)."""
    if segments and segments[-1] == "":
        segments = segments[:-1]
    allowed: list[str] = []
    for route in ROUTES:
        params = route.match(segments)
        if params is None:
            continue
        if method not in route.methods:
            allowed.extend(route.methods)
            continue
        operation, handler = route.methods[method]
        return RouteMatch(operation, handler, params.get(NAME, ""), params.get(VERSION))
    if allowed:
        raise MethodNotAllowed.for_method(method, sorted(set(allowed)))
    raise NotFound("The requested resource was not found. The certsync emulator serves the Secrets API only.")


def validate_name(match: RouteMatch) -> None:
    if match.name and not SECRET_NAME.match(match.name):
        raise BadParameter.invalid_name(match.name)
