"""HTTPS plumbing the Key Vault and ARM emulators share: the threaded TLS server, the JSON handler base.

What differs between the two services stays in each emulator: its error bodies (the hooks
`bad_request`/`body_too_large`), its own response headers (`service_headers`), its routing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import ssl
import sys
import threading
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools.http_protocol_errors import ProtocolErrorReplies, error_code

CLOSE_NOTIFY_WAIT_S = 1.0  # how long a closing connection waits for the client's own close_notify
IDLE_TIMEOUT_S = 120  # idle keep-alive connections are dropped after this; the SDKs reconnect transparently
# Connections the kernel queues before accept(): load tests open hundreds at once, and socketserver's
# default of 5 dropped or reset the rest. Linux caps it at net.core.somaxconn (4096 by default).
_LISTEN_BACKLOG = 1024
_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
# Host header values we are willing to echo into ids and nextLinks.
_HOST_HEADER = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_MAX_CLIENT_REQUEST_ID = 128


@dataclass(frozen=True)
class Reply:
    """A JSON response (or an empty one when body is None)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class TlsThreadingServer(ThreadingHTTPServer):
    """Threaded server whose TLS handshake runs in the connection's thread, not the accept loop."""

    daemon_threads = True
    request_queue_size = _LISTEN_BACKLOG

    def __init__(
        self,
        host: str,
        port: int,
        handler: type[BaseHTTPRequestHandler],
        tls_context: ssl.SSLContext,
        app: Any,
        log: logging.Logger,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.tls_context = tls_context
        self.app = app  # what the handler serves; each emulator's handler knows its type
        self.log = log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), handler)
        url_host = _WILDCARD_HOSTS.get(host, host)
        self.authority = f"[{url_host}]:{self.server_port}" if ":" in url_host else f"{url_host}:{self.server_port}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(IDLE_TIMEOUT_S)
        try:
            tls_socket = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:
            self.log.debug("TLS handshake with %s failed: %s", client_address, err)
            return
        with self._connections_lock:
            self._connections.add(tls_socket)
        try:
            self.RequestHandlerClass(tls_socket, client_address, self)  # type: ignore[arg-type]
        finally:
            with self._connections_lock:
                self._connections.discard(tls_socket)
            # The wrapped socket owns the file descriptor now; shutdown_request() cannot close it.
            close_tls(tls_socket)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping keep-alive connections is normal; nothing worth a traceback.
        self.log.debug("connection from %s ended with %r", client_address, sys.exc_info()[1])

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def close_tls(tls_socket: ssl.SSLSocket) -> None:
    """Say close_notify before closing, as real servers do: OpenSSL 3 clients (ab, curl, openssl s_client) treat a
    bare TCP close as a truncated response ("unexpected eof while reading"). A peer that never answers it gets
    CLOSE_NOTIFY_WAIT_S, not the idle timeout."""
    with contextlib.suppress(OSError, ValueError):
        tls_socket.settimeout(CLOSE_NOTIFY_WAIT_S)
        tls_socket.unwrap()
    with contextlib.suppress(OSError):
        tls_socket.shutdown(socket.SHUT_RDWR)
    tls_socket.close()


def serve_in_thread(server: TlsThreadingServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True)
    thread.start()
    return thread


def stop_server(server: TlsThreadingServer, thread: threading.Thread) -> None:
    """Stop serving and close open connections; safe to call twice."""
    if not thread.is_alive():
        return
    server.shutdown()
    server.server_close()
    server.close_connections()
    thread.join(timeout=5)


class JsonRequestHandler(ProtocolErrorReplies):
    """Request handler base: body limits, bearer check, base URL, JSON replies with Azure's common headers."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    # Headers and body go out as two writes; with Nagle on, each response waits ~40 ms for
    # the client's delayed ACK.
    disable_nagle_algorithm = True
    server: TlsThreadingServer
    max_body_bytes = 1024 * 1024

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry resource names at most, never values; keep them out of the way.
        self.server.log.debug("%s - %s", self.address_string(), format % args)

    def __getattr__(self, name: str) -> Any:
        # Any method (OPTIONS, a lowercase "get", a made-up one) reaches the emulator's router, which answers
        # 405 or 404 in the service's words, instead of http.server's 501 page.
        if name.startswith("do_"):
            return self.do_GET
        raise AttributeError(name)

    def error_body(self, status: HTTPStatus, message: str) -> tuple[bytes, str]:
        # Guess: the codes Azure's front ends use for requests refused before routing (431, 414, 400, 505).
        body = {"error": {"code": error_code(status), "message": message}}
        return json.dumps(body, separators=(",", ":")).encode("utf-8"), "application/json; charset=utf-8"

    # -- what each emulator says in its own words ----------------------------------------

    def bad_request(self, message: str) -> Exception:
        raise NotImplementedError

    def body_too_large(self, message: str) -> Exception:
        raise NotImplementedError

    def service_headers(self, request_id: str) -> dict[str, str]:
        raise NotImplementedError

    # -- shared HTTP details -------------------------------------------------------------

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise self.bad_request("Chunked request bodies are not supported; send Content-Length.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise self.bad_request("Invalid Content-Length header.") from None
        if length > self.max_body_bytes:
            self.close_connection = True  # the unread body would otherwise be parsed as a request
            raise self.body_too_large(f"The request body is larger than {self.max_body_bytes} bytes.")
        return self.rfile.read(length) if length > 0 else b""

    def has_bearer_token(self) -> bool:
        scheme, _, token = self.headers.get("Authorization", "").strip().partition(" ")
        return scheme.lower() == "bearer" and bool(token.strip())

    def base_url(self) -> str:
        """Ids and nextLinks point back at whatever host the client used, as Azure's do."""
        host = self.headers.get("Host", "")
        if not _HOST_HEADER.match(host):
            host = self.server.authority
        return f"https://{host}"

    def send_json(self, status: int, body: Any, headers: dict[str, str]) -> None:
        """Send body as JSON (nothing when None) after the common headers, the service's, then headers."""
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        request_id = str(uuid.uuid4())
        self.send_response(status)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Pragma", "no-cache")
        self.send_header("Expires", "-1")
        self.send_header("x-ms-request-id", request_id)
        client_request_id = self.headers.get("x-ms-client-request-id")
        if client_request_id and len(client_request_id) <= _MAX_CLIENT_REQUEST_ID:
            self.send_header("x-ms-client-request-id", client_request_id)
        for name, value in self.service_headers(request_id).items():
            self.send_header(name, value)
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204:
            if payload:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and status != 204 and self.command != "HEAD":
            self.wfile.write(payload)
