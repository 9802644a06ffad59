"""The TLS front: HTTPS for every SSL-bound hostname, the certificate chosen by SNI at handshake.

Each handshake looks at the current bindings, so moving a binding or re-importing a certificate
changes what `openssl s_client -servername HOST` shows at once. Guess: a name no app has an SSL
binding for (or no SNI at all) gets the emulator's own certificate and a 404 page, the way App
Service's front end answers with its default *.azurewebsites.net certificate. IpBasedEnabled
bindings are served by SNI too.
"""

from __future__ import annotations

import html
import logging
import os
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.arm_emulator.certificates import find_by_thumbprint
from devtools.arm_emulator.pfx import covers, load_pfx
from devtools.arm_emulator.store import Resource, ResourceStore
from devtools.arm_emulator.web_apps import ssl_bindings
from devtools.emulator_http import IDLE_TIMEOUT_S, TlsThreadingServer
from devtools.http_protocol_errors import ProtocolErrorReplies
from devtools.kv_emulator.tls import TlsFiles, server_context

log = logging.getLogger("devtools.arm_emulator")


@dataclass(frozen=True)
class Served:
    app: Resource
    host_name: str
    thumbprint: str
    pfx: str


class TlsFront:
    def __init__(self, store: ResourceStore, default_tls: TlsFiles) -> None:
        self._store = store
        self._default_tls = default_tls
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context(self) -> ssl.SSLContext:
        context = server_context(self._default_tls)
        context.sni_callback = self._choose_certificate
        return context

    def lookup(self, host_name: str) -> Served | None:
        """The app and certificate serving host_name now: an exact binding first, then a wildcard one."""
        host = host_name.lower().rstrip(".")
        with self._store.lock:
            candidates = []
            for app, binding in ssl_bindings(self._store):
                bound = binding.body["name"].rsplit("/", 1)[1]
                if bound == host or (bound.startswith("*.") and covers([bound], host)):
                    candidates.append((bound != host, app, bound, str(binding.properties["thumbprint"])))
            for _, app, bound, thumbprint in sorted(candidates, key=lambda c: c[0]):
                subscription, group = app.id.split("/")[2], app.properties["resourceGroup"]
                cert = find_by_thumbprint(self._store, subscription, group, app.body["location"], thumbprint)
                if cert is not None and cert.pfx is not None:
                    return Served(app, bound, thumbprint, cert.pfx)
        return None

    def _choose_certificate(self, tls_socket: Any, server_name: str | None, _: ssl.SSLContext) -> None:
        if not server_name:
            return  # no SNI: the default certificate
        served = self.lookup(server_name)
        if served is not None:
            tls_socket.context = self._context_for(served)

    def _context_for(self, served: Served) -> ssl.SSLContext:
        with self._lock:
            context = self._contexts.get(served.thumbprint)
            if context is None:
                context = _context_from_pfx(served.pfx)
                self._contexts[served.thumbprint] = context
            return context


def _context_from_pfx(pfx: str) -> ssl.SSLContext:
    """load_cert_chain reads files only: key and chain go to a 0600 temp file, removed at once."""
    _, pem = load_pfx(pfx)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    fd, name = tempfile.mkstemp(prefix="arm-front-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        context.load_cert_chain(name)
    finally:
        Path(name).unlink(missing_ok=True)
    return context


class TlsFrontHandler(ProtocolErrorReplies):
    """A small page naming the app that serves the requested hostname."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    server: TlsThreadingServer

    def do_GET(self) -> None:
        front: TlsFront = self.server.app
        host = self.headers.get("Host", "").rsplit(":", 1)[0] if "]" not in self.headers.get("Host", "") else ""
        served = front.lookup(host) if host else None
        if served is None:
            status = 404
            text = (
                f"<h1>No app here</h1><p>No site or slot has an SSL binding for {html.escape(host or '(no host)')}.</p>"
            )
        else:
            status = 200
            name = html.escape(served.app.body["name"])
            text = (
                f"<h1>{name}</h1><p>This is the App Service app <b>{name}</b> "
                f"({html.escape(served.app.type)}), serving {html.escape(host)} "
                f"with the certificate {html.escape(served.thumbprint)}.</p>"
            )
        payload = f"<!doctype html><html><head><title>certsync ARM emulator</title></head><body>{text}</body></html>"
        data = payload.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_HEAD = do_GET

    def version_string(self) -> str:
        return "certsync-arm-emulator-front"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("front %s - %s", self.address_string(), format % args)
