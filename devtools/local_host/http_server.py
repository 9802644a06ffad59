"""The socket side: a ThreadingHTTPServer that hands each request to the HttpFrontEnd.

HTTP/1.1 with keep-alive; request bodies by Content-Length or chunked (http_body), and a body
that cannot be read whole is a 400 that never runs a function; HEAD replies carry the headers but
no body. A failure in here is a 500 with an empty body, like one in user code.
"""
from __future__ import annotations

import logging
import re
import threading
from http.server import ThreadingHTTPServer

from devtools.http_protocol_errors import ProtocolErrorReplies
from devtools.local_host.http_body import UnreadableBody, read_body
from devtools.local_host.http_front import HttpFrontEnd, HttpReply

log = logging.getLogger("devtools.local_host")

MAX_BODY = 100 * 1024 * 1024  # the host's default request size limit (~100 MB)
IDLE_TIMEOUT_S = 120  # Kestrel's default keep-alive timeout is 130 s
# Connections the kernel queues before accept(): load tests open hundreds at once, and socketserver's
# default of 5 dropped or reset the rest. Linux caps it at net.core.somaxconn (4096 by default).
LISTEN_BACKLOG = 1024
# A function key may come as ?code=: logs show "[Hidden Credential]" instead, as the Functions host does.
_CODE_VALUE = re.compile(r"(?i)([?&]code=)[^&\s]*")


def shown(text: str) -> str:
    """A request path or line as a log line may show it: without a function key's value."""
    return _CODE_VALUE.sub(r"\1[Hidden Credential]", text)


class PortUnavailableError(OSError):
    """The port is taken; Core Tools says the same thing and stops."""


class _Handler(ProtocolErrorReplies):
    protocol_version = "HTTP/1.1"
    server_version = "devtools.local_host"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
    timeout = IDLE_TIMEOUT_S  # a client that stops sending (mid-body or idle) frees its thread
    max_body_bytes = MAX_BODY
    server: _Server

    def __getattr__(self, name: str):
        # Any method reaches the router, which answers 404 when no function takes it (as the
        # Functions host does), instead of http.server's 501 page.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        try:
            body = read_body(self.headers, self.rfile, MAX_BODY)
        except UnreadableBody as err:
            log.info("refused %s %s: %s", self.command, shown(self.path), err)
            self.close_connection = True  # where the next request would start is unknown
            self._send(HttpReply(err.status))
            return
        except TimeoutError:
            self.close_connection = True  # the client stopped sending mid-body: nothing to answer
            return
        try:
            host = self.headers.get("Host") or f"{self.connection.getsockname()[0]}:{self.server.server_port}"
            front = self.server.front
            reply = front.handle(self.command, self.path, list(self.headers.items()), body, f"http://{host}")
        except Exception:  # never a stack trace to the client
            log.exception("handling %s %s failed", self.command, shown(self.path))
            reply = HttpReply(500)
        self._send(reply)

    def _send(self, reply: HttpReply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")  # so a client never reuses a socket we close
        self.end_headers()
        if self.command != "HEAD" and reply.body:
            self.wfile.write(reply.body)


    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - %s", self.address_string(), shown(format % args))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    front: HttpFrontEnd


class FunctionsHttpServer:
    """Binds at construction (so a taken port fails before the app is imported), serves on start."""

    def __init__(self, host: str, port: int) -> None:
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as err:
            raise PortUnavailableError(
                f"Port {port} is unavailable. Close the process using that port, or specify another port using --port."
            ) from err
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self, front: HttpFrontEnd) -> None:
        self._server.front = front
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
