"""HTTPS server for the ARM API: turns requests into ARM operations or /_emulator/ calls.

Order of checks: management prefix; bearer token (any is accepted); routing; injected faults;
api-version; then the operation, under the store's lock.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.arm_emulator import api, management
from devtools.arm_emulator.context import ArmRequest, ArmState
from devtools.arm_emulator.dns_server import DnsServer
from devtools.arm_emulator.errors import (
    ArmError,
    bad_request,
    injected,
    missing_api_version,
    unsupported_api_version,
)
from devtools.arm_emulator.keyvault import KeyVaultReader
from devtools.arm_emulator.long_running import status_target
from devtools.arm_emulator.protocol import DEFAULT_PAGE_SIZE, MAX_REQUEST_BODY_BYTES
from devtools.arm_emulator.ratelimits import RateLimits
from devtools.arm_emulator.resources import local_vault_id, seed_local_vault
from devtools.arm_emulator.routes import ASYNC_STATUS_OPERATION, operation_names, resolve
from devtools.arm_emulator.store import ResourceStore
from devtools.arm_emulator.tls_front import TlsFront, TlsFrontHandler
from devtools.emulator_http import JsonRequestHandler, Reply, TlsThreadingServer, serve_in_thread, stop_server
from devtools.kv_emulator.faults import FAULT, UNKNOWN, FaultInjector, RequestCounters
from devtools.kv_emulator.tls import TlsFiles, ensure_certificate, server_context, tls_location

log = logging.getLogger("devtools.arm_emulator")

UNAUTHENTICATED = "unauthenticated"
_AUTH_CHALLENGE = (
    'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", '
    "error_description=\"The authentication failed because of missing 'Authorization' header.\""
)


class ArmApp:
    """What the request handler needs besides the request: state, limits, how to re-seed."""

    def __init__(self, state: ArmState, vault_url: str | None, extra_vaults: dict[str, str] | None = None) -> None:
        self.state = state
        self.rate_limits = RateLimits()
        self.vault_url = vault_url
        self.extra_vaults = extra_vaults or {}

    def reseed(self) -> None:
        seed_local_vault(self.state.store, self.vault_url, self.extra_vaults)


class ArmRequestHandler(JsonRequestHandler):
    max_body_bytes = MAX_REQUEST_BODY_BYTES

    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_PATCH = do_POST = do_DELETE = do_HEAD = do_GET

    def version_string(self) -> str:
        return "certsync-arm-emulator"

    def _dispatch(self) -> None:
        app: ArmApp = self.server.app
        target = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
        headers: dict[str, str] = {}
        try:
            body = self.read_body()
            if target.path.startswith(management.PREFIX):
                reply = management.handle(self.command, target.path, query, body, app.state, app.reseed)
            else:
                reply = self._arm(app, target.path, query, body, headers)
        except ArmError as err:
            reply = Reply(err.status, err.body(), err.headers)
        except Exception:  # a bug here must not kill the connection thread silently
            log.exception("unexpected error handling %s %s", self.command, target.path)
            reply = Reply(
                500, {"error": {"code": "InternalServerError", "message": "The emulator failed; see its log."}}
            )
        self.send_json(reply.status, reply.body, {**headers, **reply.headers})

    def _arm(self, app: ArmApp, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]) -> Reply:
        state = app.state
        if not self.has_bearer_token():
            state.counters.add(UNAUTHENTICATED)
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                {"WWW-Authenticate": _AUTH_CHALLENGE},
            )
        segments = [unquote(s) for s in path.strip("/").split("/")]
        monitored = status_target(segments) if self.command == "GET" else None
        if monitored is not None:
            return self._async_status(state, monitored, query)
        try:
            routed = resolve(self.command, path, segments)
        except ArmError:
            state.counters.add(UNKNOWN)
            raise
        state.counters.add(routed.operation)
        headers.update(app.rate_limits.spend(routed.subscription, self.command))
        self._inject_faults(state, routed.subscription, routed.operation)
        api_version = query.get("api-version")
        if not api_version:
            raise missing_api_version()
        if api_version not in routed.api_versions:
            raise unsupported_api_version(api_version, routed.resource_type, routed.api_versions)
        request = ArmRequest(
            routed,
            self.command,
            path,
            query,
            body,
            self.base_url(),
            api_version,
            if_match=self.headers.get("If-Match"),
            if_none_match=self.headers.get("If-None-Match"),
        )
        with state.store.transaction():
            if state.long_running.applies(routed.operation):
                return state.long_running.accept(
                    state.store, path, request.base_url, api_version, lambda: api.handle(state, request)
                )
            return api.handle(state, request)

    def _async_status(self, state: ArmState, monitored: tuple[str, str], query: dict[str, str]) -> Reply:
        """GET {resource id}/operationresults/{id}: what a 202's Azure-AsyncOperation/Location names."""
        resource_id, operation_id = monitored
        state.counters.add(ASYNC_STATUS_OPERATION)
        subscription = resource_id.split("/")[2] if resource_id.count("/") > 2 else ""
        self._inject_faults(state, subscription, ASYNC_STATUS_OPERATION)
        if not query.get("api-version"):
            raise missing_api_version()
        return state.long_running.status(resource_id, operation_id)

    def _inject_faults(self, state: ArmState, subscription: str, operation: str) -> None:
        if state.fault_subscriptions is not None and subscription.lower() not in state.fault_subscriptions:
            return
        decision = state.faults.decide(operation)
        if decision.latency_s:
            time.sleep(decision.latency_s)
        if decision.error is not None:
            state.counters.add(FAULT)
            retry_after = decision.error.headers.get("Retry-After")
            raise injected(decision.error.status, int(retry_after) if retry_after else None, subscription, operation)

    # -- ARM's own words -----------------------------------------------------------------

    def bad_request(self, message: str) -> Exception:
        return bad_request(message)

    def body_too_large(self, message: str) -> Exception:
        return ArmError(413, "RequestEntityTooLarge", message)

    def service_headers(self, request_id: str) -> dict[str, str]:
        return {
            "x-ms-correlation-request-id": request_id,
            "x-ms-routing-request-id": f"LOCAL:{request_id}",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        }


class EmulatorHandle:
    """A running emulator: ARM API URL, TLS front port, which certificate to trust, how to stop it."""

    def __init__(
        self,
        api: TlsThreadingServer,
        front: TlsThreadingServer,
        threads: list[Any],
        tls: TlsFiles,
        temp_dir: Path | None,
        state: ArmState,
        dns: DnsServer | None = None,
    ) -> None:
        self._servers = [api, front]
        self._dns = dns
        self.dns_port: int | None = dns.port if dns else None
        self._threads = threads
        self._temp_dir = temp_dir
        self.state = state
        self.port: int = api.server_port
        self.url: str = f"https://{api.authority}"
        self.tls_port: int = front.server_port
        self.cert_path: Path = tls.cert_path

    def stop(self) -> None:
        """Stop serving, close open connections; safe to call twice."""
        for server, thread in zip(self._servers, self._threads, strict=True):
            stop_server(server, thread)
        if self._dns is not None:
            self._dns.stop()
            self._dns = None
        self.state.key_vault.close()
        for reader in self.state.other_vaults.values():
            reader.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"EmulatorHandle(url={self.url!r}, tls_port={self.tls_port}, dns_port={self.dns_port}, "
            f"cert_path={str(self.cert_path)!r})"
        )


def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    tls_port: int = 0,
    data_dir: str | Path | None = None,
    tls_dir: str | Path | None = None,
    key_vault_url: str | None = None,
    key_vault_cert: str | Path | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    dns_port: int | None = 0,
    extra_key_vaults: dict[str, str] | None = None,
) -> EmulatorHandle:
    """Start the ARM API and the TLS front in background threads; port 0 picks a free port.

    key_vault_url/key_vault_cert: the Key Vault emulator that certificate imports read from
    (known to ARM as the `local` vault). Without data_dir, state is in memory.
    dns_port: where the DNS server for the dnsZones listens (UDP and TCP); None: no DNS server.
    extra_key_vaults: more Key Vault emulators (name -> URL, trusting key_vault_cert too), known to ARM
    as `/subscriptions/<local>/resourceGroups/certsync-local/providers/Microsoft.KeyVault/vaults/<name>`.
    """
    data_path = Path(data_dir) if data_dir is not None else None
    tls_path, temp_dir = tls_location(data_path, tls_dir, "arm-emulator-tls-")
    tls = ensure_certificate(tls_path, common_name="certsync ARM emulator")
    store = ResourceStore(data_path)
    reader = KeyVaultReader(key_vault_url, Path(key_vault_cert) if key_vault_cert else None)
    counters = RequestCounters([*operation_names(), UNAUTHENTICATED])
    state = ArmState(store=store, key_vault=reader, counters=counters, faults=FaultInjector(), page_size=page_size)
    cert_path = Path(key_vault_cert) if key_vault_cert else None
    extra = extra_key_vaults or {}
    state.other_vaults = {local_vault_id(name).lower(): KeyVaultReader(url, cert_path) for name, url in extra.items()}
    app = ArmApp(state, key_vault_url, extra)
    app.reseed()
    api_server = TlsThreadingServer(host, port, ArmRequestHandler, server_context(tls), app, log)
    front = TlsFront(store, tls)
    front_server = TlsThreadingServer(host, tls_port, TlsFrontHandler, front.context(), front, log)
    dns = DnsServer(store, host, dns_port) if dns_port is not None else None
    threads = [serve_in_thread(api_server, "arm-emulator"), serve_in_thread(front_server, "arm-emulator-tls-front")]
    return EmulatorHandle(api_server, front_server, threads, tls, temp_dir, state, dns)
