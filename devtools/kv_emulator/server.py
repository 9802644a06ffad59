"""HTTPS server: turns HTTP requests into Secrets API or /_emulator/ calls, one thread each.

Order of checks: no bearer token -> 401 challenge before anything else (as Key Vault does);
then routing, injected faults, api-version, name validation, the operation itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.kv_emulator import management
from devtools.kv_emulator.errors import BadParameter, KeyVaultError, PayloadTooLarge, Unauthorized
from devtools.kv_emulator.faults import CHALLENGE, FAULT, UNKNOWN, FaultInjector, RequestCounters
from devtools.kv_emulator.management import EmulatorState
from devtools.kv_emulator.protocol import CHALLENGE_HEADER, MAX_REQUEST_BODY_BYTES, SUPPORTED_API_VERSIONS
from devtools.kv_emulator.secrets_api import OPERATION_NAMES, ApiRequest, resolve, validate_name
from devtools.kv_emulator.storage import JsonStateFile
from devtools.kv_emulator.tls import TlsFiles, ensure_certificate, server_context
from devtools.kv_emulator.vault import SecretVault
from devtools.kv_emulator.wire import Reply

log = logging.getLogger("devtools.kv_emulator")

# Host header values we are willing to echo into ids and nextLinks.
_HOST_HEADER = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
# Idle keep-alive connections are dropped after this; the SDK reconnects transparently.
_IDLE_TIMEOUT_S = 120
# Connections the kernel queues before accept(): load tests open hundreds at once, and socketserver's
# default of 5 dropped or reset the rest. Linux caps it at net.core.somaxconn (4096 by default).
_LISTEN_BACKLOG = 1024


class KeyVaultRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT_S
    # Headers and body go out as two writes; with Nagle on, each response waits ~40 ms for
    # the client's delayed ACK.
    disable_nagle_algorithm = True
    server: KeyVaultHttpsServer

    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_PATCH = do_POST = do_DELETE = do_GET

    def version_string(self) -> str:
        return "certsync-kv-emulator"

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry secret names at most, never values; keep them out of the way.
        log.debug("%s - %s", self.address_string(), format % args)

    # -- dispatch ------------------------------------------------------------------------

    def _dispatch(self) -> None:
        target = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
        try:
            body = self._read_body()
            if target.path.startswith(management.PREFIX):
                reply = management.handle(self.command, target.path, query, body, self.server.state)
            else:
                reply = self._key_vault(target.path, query, body)
        except KeyVaultError as err:
            reply = Reply(err.status, err.body(), err.headers)
        except Exception:  # a bug here must not kill the connection thread silently
            log.exception("unexpected error handling %s %s", self.command, target.path)
            failure = KeyVaultError("The emulator failed; see its log.")
            reply = Reply(failure.status, failure.body())
        self._send(reply)

    def _key_vault(self, path: str, query: dict[str, str], body: bytes) -> Reply:
        state = self.server.state
        if not self._has_bearer_token():
            state.counters.add(CHALLENGE)
            raise Unauthorized.missing_token(CHALLENGE_HEADER)
        try:
            match = resolve(self.command, [unquote(s) for s in path.split("/")[1:]])
        except KeyVaultError:
            state.counters.add(UNKNOWN)
            raise
        state.counters.add(match.operation)
        decision = state.faults.decide(match.operation)
        if decision.latency_s:
            time.sleep(decision.latency_s)
        if decision.error is not None:
            state.counters.add(FAULT)
            raise decision.error
        api_version = query.get("api-version")
        if api_version not in SUPPORTED_API_VERSIONS:
            raise BadParameter.unsupported_api_version(api_version)
        validate_name(match)
        request = ApiRequest(
            base_url=self._base_url(),
            api_version=api_version,
            query=query,
            body=body,
            name=match.name,
            version=match.version or None,
        )
        return match.handler(state.vault, request)

    # -- HTTP details --------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise BadParameter("Chunked request bodies are not supported; send Content-Length.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise BadParameter("Invalid Content-Length header.") from None
        if length > MAX_REQUEST_BODY_BYTES:
            self.close_connection = True  # the unread body would otherwise be parsed as a request
            raise PayloadTooLarge(f"The request body is larger than {MAX_REQUEST_BODY_BYTES} bytes.")
        return self.rfile.read(length) if length > 0 else b""

    def _has_bearer_token(self) -> bool:
        scheme, _, token = self.headers.get("Authorization", "").strip().partition(" ")
        return scheme.lower() == "bearer" and bool(token.strip())

    def _base_url(self) -> str:
        """Ids point back at whatever host the client used, as Key Vault's do."""
        host = self.headers.get("Host", "")
        if not _HOST_HEADER.match(host):
            host = self.server.authority
        return f"https://{host}"

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body, separators=(",", ":")).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Pragma", "no-cache")
        self.send_header("Expires", "-1")
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        client_request_id = self.headers.get("x-ms-client-request-id")
        if client_request_id and len(client_request_id) <= 128:
            self.send_header("x-ms-client-request-id", client_request_id)
        self.send_header("x-ms-keyvault-region", "local")
        self.send_header("x-ms-keyvault-service-version", "certsync-emulator")
        self.send_header("Strict-Transport-Security", "max-age=31536000;includeSubDomains")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != 204:
            if payload:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and reply.status != 204:
            self.wfile.write(payload)


class KeyVaultHttpsServer(ThreadingHTTPServer):
    """Threaded server whose TLS handshake runs in the connection's thread, not the accept loop."""

    daemon_threads = True
    request_queue_size = _LISTEN_BACKLOG

    def __init__(self, host: str, port: int, state: EmulatorState, tls_context: ssl.SSLContext) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.state = state
        self.tls_context = tls_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), KeyVaultRequestHandler)
        url_host = _WILDCARD_HOSTS.get(host, host)
        self.authority = f"[{url_host}]:{self.server_port}" if ":" in url_host else f"{url_host}:{self.server_port}"

    def finish_request(self: Self, request: Any, client_address: Any) -> None:
        request.settimeout(_IDLE_TIMEOUT_S)
        try:
            tls_socket = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:
            log.debug("TLS handshake with %s failed: %s", client_address, err)
            return
        with self._connections_lock:
            self._connections.add(tls_socket)
        try:
            self.RequestHandlerClass(tls_socket, client_address, self)
        finally:
            with self._connections_lock:
                self._connections.discard(tls_socket)
            # The wrapped socket owns the file descriptor now; shutdown_request() cannot close it.
            with contextlib.suppress(OSError):
                tls_socket.shutdown(socket.SHUT_RDWR)
            tls_socket.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping keep-alive connections is normal; nothing worth a traceback.
        log.debug("connection from %s ended with %r", client_address, sys.exc_info()[1])

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class EmulatorHandle:
    """A running emulator: where it listens, which certificate to trust, how to stop it."""

    def __init__(
        self, server: KeyVaultHttpsServer, thread: threading.Thread, tls: TlsFiles, temp_dir: Path | None
    ) -> None:
        self._server = server
        self._thread = thread
        self._temp_dir = temp_dir
        self.port: int = server.server_port
        self.url: str = f"https://{server.authority}"
        self.cert_path: Path = tls.cert_path

    def stop(self) -> None:
        """Stop serving, close open connections; safe to call twice."""
        if not self._thread.is_alive():
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorHandle(url={self.url!r}, cert_path={str(self.cert_path)!r})"


def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: str | Path | None = None,
    tls_dir: str | Path | None = None,
) -> EmulatorHandle:
    """Start serving in a background thread; port 0 picks a free port.

    data_dir persists secrets (and holds the TLS files unless tls_dir is given); without
    either, state is in memory and the certificate lives in a temp dir removed on stop().
    """
    data_path = Path(data_dir) if data_dir is not None else None
    temp_dir: Path | None = None
    if tls_dir is not None:
        tls_path = Path(tls_dir)
    elif data_path is not None:
        tls_path = data_path
    else:
        temp_dir = tls_path = Path(tempfile.mkdtemp(prefix="kv-emulator-tls-"))
    tls = ensure_certificate(tls_path)

    state_file = JsonStateFile(data_path) if data_path is not None else None
    vault = SecretVault(state_file.load() if state_file else [], sink=state_file, clock=time.time)
    state = EmulatorState(vault=vault, counters=RequestCounters(OPERATION_NAMES), faults=FaultInjector())

    server = KeyVaultHttpsServer(host, port, state, server_context(tls))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="kv-emulator", daemon=True
    )
    thread.start()
    return EmulatorHandle(server, thread, tls, temp_dir)
