"""JSON bodies in and out: request parsing into vault inputs, vault records into bundles.

Bundle shapes follow the Key Vault REST spec (SecretBundle, SecretItem, DeletedSecretBundle,
DeletedSecretItem); absent optional fields are omitted, as the real service does.
"""

from __future__ import annotations

import json
from typing import Any

from devtools.kv_emulator.errors import BadParameter
from devtools.kv_emulator.protocol import (
    MAX_CONTENT_TYPE_CHARS,
    MAX_SECRET_VALUE_CHARS,
    MAX_TAGS,
    RECOVERABLE_DAYS,
    RECOVERY_LEVEL,
    utf16_length,
)
from devtools.kv_emulator.vault import UNSET, NewVersion, PropertiesUpdate, Secret, SecretVersion

# -- requests ------------------------------------------------------------------------------


def parse_set_body(raw: bytes) -> NewVersion:
    body = _json_object(raw)
    value = body.get("value")
    if not isinstance(value, str):
        raise BadParameter("Property 'value' is required and must be a string.")
    if utf16_length(value) > MAX_SECRET_VALUE_CHARS:
        raise BadParameter.secret_too_large()
    attributes = _attributes(body.get("attributes"))
    enabled = attributes.get("enabled", UNSET)
    return NewVersion(
        value=value,
        content_type=_content_type(body.get("contentType")),
        tags=_tags(body.get("tags")),
        enabled=True if enabled is UNSET or enabled is None else bool(enabled),
        not_before=_or_none(attributes.get("nbf", UNSET)),
        expires=_or_none(attributes.get("exp", UNSET)),
    )


def parse_update_body(raw: bytes) -> PropertiesUpdate:
    body = _json_object(raw)
    attributes = _attributes(body.get("attributes"))
    enabled = attributes.get("enabled", UNSET)
    return PropertiesUpdate(
        content_type=_content_type(body["contentType"]) if "contentType" in body else UNSET,
        tags=_tags(body["tags"]) if "tags" in body else UNSET,
        # null means "not sent" for enabled: a version is always either enabled or not.
        enabled=UNSET if enabled is None else enabled,
        not_before=attributes.get("nbf", UNSET),
        expires=attributes.get("exp", UNSET),
    )


def parse_restore_body(raw: bytes) -> Any:
    """The backup blob of a restoreSecret request (SecretRestoreParameters.value); checked by the backup module."""
    return _json_object(raw).get("value")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
        # A lone surrogate ("\ud800") parses in Python but is not text; .NET's reader refuses it
        # (guess: Key Vault calls that invalid JSON).
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise BadParameter("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadParameter("The request body must be a JSON object.")
    return body


def _content_type(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CONTENT_TYPE_CHARS:
        raise BadParameter(f"Property 'contentType' must be a string of at most {MAX_CONTENT_TYPE_CHARS} characters.")
    return value


def _tags(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadParameter("Property 'tags' must be an object of string values.")
    if len(value) > MAX_TAGS:
        raise BadParameter(f"The number of tags exceeds the maximum of {MAX_TAGS}.")
    return dict(value)


def _attributes(value: Any) -> dict[str, Any]:
    """Only the writable attributes; read-only ones (created, updated...) are ignored."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadParameter("Property 'attributes' must be an object.")
    parsed: dict[str, Any] = {}
    if "enabled" in value:
        if value["enabled"] is not None and not isinstance(value["enabled"], bool):
            raise BadParameter("Property 'attributes.enabled' must be a boolean.")
        parsed["enabled"] = value["enabled"]
    for name in ("nbf", "exp"):
        if name in value:
            parsed[name] = _unix_time(name, value[name])
    return parsed


def _unix_time(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise BadParameter(f"Property 'attributes.{name}' must be a unix time in seconds.")
    return int(value)


def _or_none(value: Any) -> Any:
    return None if value is UNSET else value


# -- responses -----------------------------------------------------------------------------


def secret_id(base_url: str, name: str, version: str | None = None) -> str:
    return f"{base_url}/secrets/{name}/{version}" if version else f"{base_url}/secrets/{name}"


def attributes(version: SecretVersion) -> dict[str, Any]:
    rendered: dict[str, Any] = {"enabled": version.enabled}
    if version.not_before is not None:
        rendered["nbf"] = version.not_before
    if version.expires is not None:
        rendered["exp"] = version.expires
    rendered.update(
        created=version.created,
        updated=version.updated,
        recoveryLevel=RECOVERY_LEVEL,
        recoverableDays=RECOVERABLE_DAYS,
    )
    return rendered


def _metadata(version: SecretVersion) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    if version.content_type is not None:
        rendered["contentType"] = version.content_type
    rendered["attributes"] = attributes(version)
    if version.tags is not None:
        rendered["tags"] = dict(version.tags)
    return rendered


def secret_bundle(base_url: str, secret: Secret, version: SecretVersion, *, with_value: bool) -> dict[str, Any]:
    """Set and get return the value; update and recover do not."""
    bundle: dict[str, Any] = {"value": version.value} if with_value else {}
    bundle["id"] = secret_id(base_url, secret.name, version.version)
    bundle.update(_metadata(version))
    return bundle


def secret_item(base_url: str, secret: Secret, version: SecretVersion, *, versioned: bool) -> dict[str, Any]:
    """A list entry: never a value; the id has a version only when listing versions."""
    item: dict[str, Any] = {"id": secret_id(base_url, secret.name, version.version if versioned else None)}
    item.update(_metadata(version))
    return item


def _deletion(base_url: str, secret: Secret) -> dict[str, Any]:
    return {
        "recoveryId": f"{base_url}/deletedsecrets/{secret.name}",
        "deletedDate": secret.deleted_on,
        "scheduledPurgeDate": secret.purge_on,
    }


def deleted_bundle(base_url: str, secret: Secret) -> dict[str, Any]:
    bundle = _deletion(base_url, secret)
    bundle.update(secret_bundle(base_url, secret, secret.latest, with_value=False))
    return bundle


def deleted_item(base_url: str, secret: Secret) -> dict[str, Any]:
    item = _deletion(base_url, secret)
    item.update(secret_item(base_url, secret, secret.latest, versioned=False))
    return item
