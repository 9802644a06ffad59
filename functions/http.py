"""HTTP plumbing shared by every endpoint: JSON in, JSON out, ARM-style errors.

Every failure becomes {"error": {"code", "message"}} with the status of its error type (a
bad app setting found at start is a 503 ConfigurationError on every endpoint); an unexpected
exception becomes a 500 with a generic message, and is logged with its traceback through
shared.logs, which redacts secret material.
"""
from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import azure.functions as func

from shared.composition import application
from shared.errors import BadRequest, CertsyncError, UnsupportedMediaType
from shared.paging import page_size
from shared.principal import authorize, principal_name

log = logging.getLogger("certsync.http")
MAX_BODY = 64 * 1024
JSON_TYPES = {str: "a string", int: "a whole number", bool: "true or false", list: "a list", dict: "an object"}

Endpoint = Callable[[func.HttpRequest], func.HttpResponse]
FieldNames = frozenset[str] | set[str]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return json_response({"error": {"code": code, "message": message}}, status, headers)


def endpoint(role: str | None) -> Callable[[Endpoint], Endpoint]:
    """Check the caller's app role, then map our error types to HTTP once, for every endpoint."""

    def decorate(fn: Endpoint) -> Endpoint:
        @functools.wraps(fn)
        def wrapper(req: func.HttpRequest) -> func.HttpResponse:
            return _guarded(fn, req, role)

        return wrapper

    return decorate


def _guarded(fn: Endpoint, req: func.HttpRequest, role: str | None) -> func.HttpResponse:
    try:
        if role is not None:
            authorize(application().settings.require_roles, req.headers.get("x-ms-client-principal"), role)
        return fn(req)
    except CertsyncError as err:
        headers = {}
        retry_after = getattr(err, "retry_after", None)
        if retry_after:
            headers["Retry-After"] = str(int(retry_after))
        return error_response(err.status, err.code, err.message, headers)
    except Exception as err:  # the last line of defence: never a stack trace out
        log.error("unhandled %s in %s", type(err).__name__, fn.__name__, exc_info=err)
        return error_response(500, "InternalError", "an unexpected error occurred; see the function logs")


def read_json(req: func.HttpRequest, *, required: FieldNames = frozenset(), optional: FieldNames = frozenset()) -> dict:
    """Parse a JSON object body, refusing unknown and missing fields by name (a required field
    sent as null is missing; an optional one sent as null is as if absent)."""
    raw = req.get_body() or b""
    if raw.strip():
        check_json_media_type(req.headers.get("Content-Type"))
    if len(raw) > MAX_BODY:
        raise BadRequest("request body is larger than 64 KB", code="BodyTooLarge")
    if not raw.strip():
        if required:
            raise BadRequest(f"a JSON body is required with {', '.join(sorted(required))}", code="MissingBody")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("request body is not valid JSON", code="InvalidJson") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object", code="InvalidJson")
    unknown = set(body) - required - optional
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))[:200]}", code="UnknownField")
    missing = required - set(body)
    if missing:
        raise BadRequest(f"missing field(s): {', '.join(sorted(missing))}", code="MissingField")
    nulls = sorted(name for name in required if body[name] is None)
    if nulls:  # null is no value: a required field sent as null is missing, said so by name
        raise BadRequest(f"field(s) {', '.join(nulls)} must have a value, not null", code="MissingField")
    return body


def check_json_media_type(content_type: str | None) -> None:
    """A body is read only when it says it is JSON (application/json or application/*+json), in
    UTF-8, the only encoding JSON has (RFC 8259): a form, XML or text is never guessed at."""
    media_type, *parameters = (content_type or "").split(";")
    kind, _, subtype = media_type.strip().lower().partition("/")
    is_json = kind == "application" and (subtype == "json" or subtype.endswith("+json"))
    charsets = [v.strip().strip('"').lower() for k, _, v in (p.partition("=") for p in parameters)
                if k.strip().lower() == "charset"]
    if not is_json or any(c not in ("utf-8", "utf8") for c in charsets):
        shown = (content_type or "none")[:60]
        raise UnsupportedMediaType(
            f"request body must be JSON sent as Content-Type: application/json (UTF-8), not {shown!r}"
        )


def field(body: dict, name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """A typed field; bool is not accepted where an int is expected."""
    if name not in body or body[name] is None:
        return default
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise BadRequest(f"field {name} has the wrong type", code="InvalidField")
    if not isinstance(value, kinds):
        expected = " or ".join(JSON_TYPES.get(k, k.__name__) for k in kinds)
        raise BadRequest(f"field {name} must be {expected}", code="InvalidField")
    return value


def page_request(req: func.HttpRequest, default: int, maximum: int) -> tuple[int, str | None]:
    """($top, $skipToken) of a list request."""
    token = req.params.get("$skipToken", req.params.get("$skiptoken"))
    return page_size(req.params.get("$top"), default, maximum), token


def page_response(req: func.HttpRequest, items: list, next_token: str | None) -> func.HttpResponse:
    """{"value": [...], "nextLink": "..."} as Azure lists answer; no nextLink on the last page.
    The link repeats the request's query (a `code` key excepted: send it as x-functions-key)."""
    body: dict[str, Any] = {"value": items}
    if next_token:
        parts = urlsplit(req.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("$skipToken", "$skiptoken", "code")]
        query.append(("$skipToken", next_token))
        body["nextLink"] = urlunsplit(parts._replace(query=urlencode(query, safe="$")))
    return json_response(body)


def route(req: func.HttpRequest, name: str) -> str:
    return req.route_params.get(name, "")


def requested_by(req: func.HttpRequest) -> str:
    """Who asked, from App Service Authentication's principal header; never a token."""
    return principal_name(req.headers.get("x-ms-client-principal-name"), req.headers.get("x-ms-client-principal"))
