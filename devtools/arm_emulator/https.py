"""A threaded HTTPS server whose TLS handshake runs in the connection's thread, not the accept loop.

Shared by the ARM API and the TLS front; each passes its own request handler and SSL context.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("devtools.arm_emulator")

_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
IDLE_TIMEOUT_S = 120
# Connections the kernel queues before accept(): socketserver's default of 5 drops bursts (as the
# Key Vault emulator's did); Linux caps it at net.core.somaxconn.
_LISTEN_BACKLOG = 1024


class TlsThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = _LISTEN_BACKLOG

    def __init__(
        self, host: str, port: int, handler: type[BaseHTTPRequestHandler], tls_context: ssl.SSLContext, app: Any
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.tls_context = tls_context
        self.app = app  # what the handler serves (ArmApp or TlsFront)
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
            log.debug("TLS handshake with %s failed: %s", client_address, err)
            return
        with self._connections_lock:
            self._connections.add(tls_socket)
        try:
            self.RequestHandlerClass(tls_socket, client_address, self)  # type: ignore[arg-type]
        finally:
            with self._connections_lock:
                self._connections.discard(tls_socket)
            with contextlib.suppress(OSError):
                tls_socket.shutdown(socket.SHUT_RDWR)
            tls_socket.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with %r", client_address, sys.exc_info()[1])

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def serve_in_thread(server: TlsThreadingServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True)
    thread.start()
    return thread


def stop_server(server: TlsThreadingServer, thread: threading.Thread) -> None:
    if not thread.is_alive():
        return
    server.shutdown()
    server.server_close()
    server.close_connections()
    thread.join(timeout=5)
