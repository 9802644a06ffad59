"""What the host answers to an HTTP request, independent of the socket server.

Matches Core Tools: unknown route or wrong method -> 404 with an empty body; an exception in
user code -> 500 with an empty body (the trace goes to the log, never to the client); auth
levels are enforced only when function keys are switched on (then 401 with an empty body, and
/admin needs the master key); `POST /admin/functions/{name}` -> 202/404/400.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.functions import _abc as functions_abc

from devtools.local_host.cors import CorsPolicy
from devtools.local_host.discovery import FunctionSpec
from devtools.local_host.function_keys import AuthLevel, FunctionKeys, KeysFileError, presented_key, required_level
from devtools.local_host.invoker import InvocationResult
from devtools.local_host.routing import RouteTable

log = logging.getLogger("devtools.local_host")

HTTP_REASON = "This function was programmatically called via the host APIs."  # what Core Tools logs
_DROPPED_RESPONSE_HEADERS = {"content-length", "transfer-encoding", "connection"}
_HOMEPAGE = b"<html><body><h1>Your Functions app is up and running (devtools.local_host)</h1></body></html>"


@dataclass
class HttpReply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class HostOperations(Protocol):
    """What the front end asks of the host."""

    def invoke(self, function: FunctionSpec, trigger_value: Any, reason: str) -> InvocationResult: ...

    def start_admin_run(self, name: str, input_text: str | None) -> bool: ...

    def describe(self) -> dict[str, Any]: ...


def _merge(pairs: list[tuple[str, str]], separator: str = ",") -> dict[str, str]:
    """Repeated names joined with ',' (ASP.NET's StringValues.ToString, which the host sends on)."""
    merged: dict[str, str] = {}
    for name, value in pairs:
        merged[name] = f"{merged[name]}{separator}{value}" if name in merged else value
    return merged


def _json_reply(status: int, payload: Any) -> HttpReply:
    return HttpReply(status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(payload).encode())


def response_reply(value: Any) -> HttpReply:
    """Turn what an HTTP function returned into the reply, as the worker's HttpResponseConverter."""
    if isinstance(value, str):
        return HttpReply(200, [("Content-Type", "text/plain; charset=utf-8")], value.encode("utf-8"))
    if not isinstance(value, functions_abc.HttpResponse):
        raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {type(value).__name__}")
    status = int(value.status_code)
    if not 100 <= status <= 599:
        raise ValueError(f"status code {status} is not valid")
    headers = [(str(k), str(v)) for k, v in value.headers.items() if str(k).lower() not in _DROPPED_RESPONSE_HEADERS]
    if not any(k.lower() == "content-type" for k, _ in headers):
        mimetype = value.mimetype or "text/plain"
        content_type = f"{mimetype}; charset={value.charset}" if mimetype.startswith("text/") else mimetype
        headers.append(("Content-Type", content_type))
    return HttpReply(status, headers, value.get_body() or b"")


class HttpFrontEnd:
    def __init__(
        self,
        routes: RouteTable[FunctionSpec],
        host: HostOperations,
        keys: FunctionKeys | None = None,
        cors: CorsPolicy | None = None,
    ) -> None:
        self.routes = routes
        self._host = host
        self._keys = keys  # None: auth levels are not enforced (Core Tools without --enableAuth)
        self._cors = cors  # None: no Host.CORS in local.settings.json

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, base_url: str) -> HttpReply:
        if self._cors is None:
            return self._handle(method, target, headers, body, base_url)
        preflight = self._cors.preflight(method, headers)
        if preflight is not None:
            return HttpReply(204, preflight)
        reply = self._handle(method, target, headers, body, base_url)
        reply.headers.extend(self._cors.response_headers(headers))
        return reply

    def _handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, base_url: str
    ) -> HttpReply:
        path = urlsplit(target).path or "/"
        segments = [s for s in path.split("/") if s]
        if segments and segments[0].lower() == "admin":
            if not self._authorized(AuthLevel.ADMIN, None, headers, target):
                return HttpReply(401)
            return self._handle_admin(method.upper(), [s.lower() for s in segments[1:]], segments[1:], body)
        matched = self.routes.match(method, path)
        if matched is None:
            if path == "/" and method.upper() in ("GET", "HEAD"):
                return HttpReply(200, [("Content-Type", "text/html; charset=utf-8")], _HOMEPAGE)
            return HttpReply(404)
        route, route_params = matched
        level = required_level(route.target.trigger.get("authLevel"))
        if not self._authorized(level, route.target.name, headers, target):
            return HttpReply(401)
        request = func.HttpRequest(
            method=method.upper(),
            url=base_url + target,
            headers=_merge(headers),
            params=_merge(parse_qsl(urlsplit(target).query, keep_blank_values=True)),
            route_params=route_params,
            body=body,
        )
        result = self._host.invoke(route.target, request, HTTP_REASON)
        if not result.succeeded:
            return HttpReply(500)
        try:
            return response_reply(result.http_response)
        except (TypeError, ValueError) as err:
            log.error("Functions.%s (Id=%s) returned an unusable HTTP response: %s",
                      route.target.name, result.invocation_id, err)
            return HttpReply(500)

    def _authorized(self, level: AuthLevel, function: str | None, headers: list[tuple[str, str]], target: str) -> bool:
        if self._keys is None:
            return True
        try:
            return self._keys.allows(level, presented_key(headers, urlsplit(target).query), function)
        except KeysFileError as err:
            log.error("function keys unreadable, refusing the request: %s", err)
            return False

    def _handle_admin(self, method: str, lowered: list[str], original: list[str], body: bytes) -> HttpReply:
        if method == "POST" and len(lowered) == 2 and lowered[0] == "functions":
            return self._admin_run(original[1], body)
        if method == "GET" and lowered == ["host", "status"]:
            return _json_reply(200, self._host.describe()["status"])
        if method == "GET" and lowered == ["functions"]:
            return _json_reply(200, self._host.describe()["functions"])
        return HttpReply(404)

    def _admin_run(self, name: str, body: bytes) -> HttpReply:
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return HttpReply(400)
        if not isinstance(payload, dict):
            return HttpReply(400)  # the host's FunctionInvocation model binding yields null -> BadRequest
        value = next((v for k, v in payload.items() if k.lower() == "input"), None)
        if isinstance(value, (dict, list)):
            return HttpReply(400)
        text = value if value is None or isinstance(value, str) else json.dumps(value)
        return HttpReply(202) if self._host.start_admin_run(name, text) else HttpReply(404)
