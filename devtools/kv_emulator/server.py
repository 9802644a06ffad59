"""HTTPS server: turns HTTP requests into Secrets API or /_emulator/ calls, one thread each.

Order of checks: no bearer token -> 401 challenge before anything else (as Key Vault does);
then routing, injected faults, api-version, name validation, the operation itself.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.emulator_http import JsonRequestHandler, Reply, TlsThreadingServer, serve_in_thread, stop_server
from devtools.kv_emulator import management
from devtools.kv_emulator.errors import BadParameter, KeyVaultError, PayloadTooLarge, Unauthorized
from devtools.kv_emulator.faults import CHALLENGE, FAULT, UNKNOWN, FaultInjector, RequestCounters
from devtools.kv_emulator.management import EmulatorState
from devtools.kv_emulator.protocol import CHALLENGE_HEADER, MAX_REQUEST_BODY_BYTES, SUPPORTED_API_VERSIONS
from devtools.kv_emulator.secrets_api import OPERATION_NAMES, ApiRequest, resolve, validate_name
from devtools.kv_emulator.storage import JsonStateFile
from devtools.kv_emulator.tls import TlsFiles, ensure_certificate, server_context, tls_location
from devtools.kv_emulator.vault import SecretVault

log = logging.getLogger("devtools.kv_emulator")


class KeyVaultRequestHandler(JsonRequestHandler):
    max_body_bytes = MAX_REQUEST_BODY_BYTES

    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_PATCH = do_POST = do_DELETE = do_GET

    def version_string(self) -> str:
        return "certsync-kv-emulator"

    # -- dispatch ------------------------------------------------------------------------

    def _dispatch(self) -> None:
        target = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
        try:
            body = self.read_body()
            if target.path.startswith(management.PREFIX):
                reply = management.handle(self.command, target.path, query, body, self.server.app)
            else:
                reply = self._key_vault(target.path, query, body)
        except KeyVaultError as err:
            reply = Reply(err.status, err.body(), err.headers)
        except Exception:  # a bug here must not kill the connection thread silently
            log.exception("unexpected error handling %s %s", self.command, target.path)
            failure = KeyVaultError("The emulator failed; see its log.")
            reply = Reply(failure.status, failure.body())
        self.send_json(reply.status, reply.body, reply.headers)

    def _key_vault(self, path: str, query: dict[str, str], body: bytes) -> Reply:
        state: EmulatorState = self.server.app
        if not self.has_bearer_token():
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
            base_url=self.base_url(),
            api_version=api_version,
            query=query,
            body=body,
            name=match.name,
            version=match.version or None,
        )
        return match.handler(state.vault, request)

    # -- Key Vault's own words -----------------------------------------------------------

    def bad_request(self, message: str) -> Exception:
        return BadParameter(message)

    def body_too_large(self, message: str) -> Exception:
        return PayloadTooLarge(message)

    def service_headers(self, request_id: str) -> dict[str, str]:
        return {
            "x-ms-keyvault-region": "local",
            "x-ms-keyvault-service-version": "certsync-emulator",
            "Strict-Transport-Security": "max-age=31536000;includeSubDomains",
        }


class EmulatorHandle:
    """A running emulator: where it listens, which certificate to trust, how to stop it."""

    def __init__(
        self, server: TlsThreadingServer, thread: threading.Thread, tls: TlsFiles, temp_dir: Path | None
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
        stop_server(self._server, self._thread)
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
    tls_path, temp_dir = tls_location(data_path, tls_dir, "kv-emulator-tls-")
    tls = ensure_certificate(tls_path)

    state_file = JsonStateFile(data_path) if data_path is not None else None
    vault = SecretVault(state_file.load() if state_file else [], sink=state_file, clock=time.time)
    state = EmulatorState(vault=vault, counters=RequestCounters(OPERATION_NAMES), faults=FaultInjector())

    server = TlsThreadingServer(host, port, KeyVaultRequestHandler, server_context(tls), state, log)
    thread = serve_in_thread(server, "kv-emulator")
    return EmulatorHandle(server, thread, tls, temp_dir)
