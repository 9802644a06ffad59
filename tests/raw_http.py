"""Raw bytes over TLS to our emulators, for what no HTTP client will send (broken request lines, odd methods)."""

from __future__ import annotations

import socket
import ssl

# Request lines http.server answered HTTP/0.9 style (a bare HTML page, no status line) or not at all.
BAD_REQUEST_LINES = [
    ("not-http", b"\x16\x03\x01garbage\r\n\r\n", 400),
    ("http-2-version", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("http-0.9", b"GET /\r\n", 400),
    ("oversized-header", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
]


def exchange_tls(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send data, read until the server closes (a server that waits instead makes this time out)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the certificate is not what these tests look at
    with (
        socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock,
        # Strict: a close without TLS close_notify raises SSLEOFError, as OpenSSL 3 clients (ab, curl) complain.
        context.wrap_socket(sock, server_hostname="localhost", suppress_ragged_eofs=False) as tls,
    ):
        tls.sendall(data)
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
    return reply


def keep_alive_exchange_tls(port: int, request: bytes) -> tuple[bytes, bytes]:
    """Two HTTP/1.0 keep-alive requests on one connection: both replies' header blocks (ab -k does this)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname="localhost") as tls,
        tls.makefile("rb") as replies,
    ):
        heads = []
        for _ in range(2):
            tls.sendall(request)
            head = b"".join(iter(lambda: replies.readline(65536), b"\r\n"))
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            replies.read(length)
            heads.append(head)
    return heads[0], heads[1]


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
