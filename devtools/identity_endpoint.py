"""A local App Service managed identity endpoint: the app's own azure-identity code
(ManagedIdentityCredential, DefaultAzureCredential) gets tokens from it exactly as it does in
Azure, via IDENTITY_ENDPOINT and IDENTITY_HEADER.

Tokens are unsigned JWTs that Azurite accepts in `--oauth basic` mode, which checks only
(Azurite 3.35, `*TokenAuthenticator.authenticateBasic`): the token decodes as a JWT; `iat`,
`nbf`, `exp` are present and now is between nbf and exp; `iss` starts with a known STS prefix
(`https://sts.windows.net/`); `aud` is `https://storage.azure.com[/]`, the storage app id or
`https://<account>.<service>.core.windows.net`. The signature is not checked. Loopback only.
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken, AccessTokenInfo

TENANT_ID = "00000000-0000-0000-0000-00000000c0de"
SYSTEM_IDENTITY = "00000000-0000-0000-0000-000000005157"  # the app's system-assigned identity
TOKEN_PATH = "/msi/token"
API_VERSION = "2019-08-01"  # the version azure-identity and MSAL send
LIFETIME_S = 3600


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def development_token(resource: str, client_id: str = SYSTEM_IDENTITY, lifetime_s: int = LIFETIME_S) -> str:
    """An unsigned (alg "none") JWT for `resource`, shaped like an Entra ID v1 access token."""
    now = int(time.time())
    claims = {
        "aud": resource,
        "iss": f"https://sts.windows.net/{TENANT_ID}/",
        "iat": now,
        "nbf": now - 60,
        "exp": now + lifetime_s,
        "appid": client_id,
        "oid": client_id,
        "sub": client_id,
        "tid": TENANT_ID,
        "ver": "1.0",
    }
    return f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(claims)}."


def resource_of(scope: str) -> str:
    """`https://storage.azure.com/.default` -> `https://storage.azure.com` (what MSAL sends)."""
    return scope.removesuffix("/.default")


class DevelopmentTokenCredential:
    """A TokenCredential for test-side SDK clients talking to Azurite with OAuth on."""

    def __init__(self, client_id: str = SYSTEM_IDENTITY) -> None:
        self.client_id = client_id

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = development_token(resource_of(scopes[0]), self.client_id)
        return AccessToken(token, int(time.time()) + LIFETIME_S)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        token = development_token(resource_of(scopes[0]), self.client_id)
        return AccessTokenInfo(token, int(time.time()) + LIFETIME_S)


@dataclass
class TokenRequest:
    resource: str
    client_id: str | None


@dataclass
class IdentityEndpoint:
    """Serves tokens for the system identity and the user-assigned identities given."""

    user_assigned: frozenset[str] = frozenset()
    header_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    requests: list[TokenRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> IdentityEndpoint:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="identity-endpoint", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{TOKEN_PATH}"

    def environment(self) -> dict[str, str]:
        """What App Service sets for an app with a managed identity."""
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.header_secret}

    def answer(self, path: str, header: str | None) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path != TOKEN_PATH:
            return 404, {"statusCode": 404, "message": "not found"}
        if header != self.header_secret:
            return 401, {"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or wrong"}
        if query.get("api-version") != API_VERSION or not query.get("resource"):
            return 400, {"statusCode": 400, "message": "api-version 2019-08-01 and resource are required"}
        client_id = query.get("client_id")
        self.requests.append(TokenRequest(query["resource"], client_id))
        if client_id is not None and client_id not in self.user_assigned:
            # Guess: App Service's body for an identity not assigned to the app; the SDKs read only the status.
            return 400, {"statusCode": 400, "message": f"identity {client_id} is not assigned to this app"}
        expires_on = int(time.time()) + LIFETIME_S
        return 200, {
            "access_token": development_token(query["resource"], client_id or SYSTEM_IDENTITY),
            "expires_on": str(expires_on),
            "resource": query["resource"],
            "token_type": "Bearer",
            "client_id": client_id or SYSTEM_IDENTITY,
        }


def _handler(endpoint: IdentityEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, body = endpoint.answer(self.path, self.headers.get("X-IDENTITY-HEADER"))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read `endpoint.requests` instead."""

    return Handler
