"""App Service in ARM, side by side in one run on the ARM emulator:

- renew -> every hostname of 20 apps x 5 hostnames (10 sites and their slots) serves the new
  certificate over TLS (the emulator's TLS front), median and max;
- ARM requests of one certificate sync (certsync, counted by the emulator) against a naive
  per-binding loop over the same bindings (GET + PUT the certificate, GET + PUT + GET the binding);
- a sweep discovering N certificate resources over 3 subscriptions with added ARM latency: the
  first sweep (discovers and indexes every resource) and a steady one (nothing changed).
"""

from __future__ import annotations

import os
import socket
import ssl
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bench.api import Api
from bench.report import Row
from bench.stack import BenchStack, app_env
from devtools.processes import arm_emulator, env_only_host, free_port
from shared.app_context import AppContext
from shared.appservice import sync as appservice
from shared.settings import Settings

SUB = "11111111-1111-1111-1111-111111111111"
SWEEP_SUBS = (SUB, "22222222-2222-2222-2222-222222222222", "33333333-3333-3333-3333-333333333333")
VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/certsync-local/providers/Microsoft.KeyVault/vaults/local"
LOCATION, GROUP, SITES, HOSTS_PER_APP = "westeurope", "bench", 10, 5
API = "2025-05-01"
TARGET_S = 5.0


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # renew -> all served over TLS
    sync_latencies: list[float] = field(default_factory=list)  # renew -> the sync operation finished
    hostnames: int = 0
    sync_requests: dict[str, int] = field(default_factory=dict)
    naive_requests: dict[str, int] = field(default_factory=dict)
    sweep_certificates: int = 0
    sweep_latency_ms: int = 0
    first_sweep: tuple[float, int] = (0.0, 0)  # seconds, ARM requests
    steady_sweep: tuple[float, int] = (0.0, 0)


@dataclass(frozen=True)
class ArmEndpoint:
    """The ARM emulator in its own process (in the bench's process it would share a GIL with
    the TLS polling threads, and its answers would measure the bench, not certsync)."""

    url: str
    tls_port: int
    cert_path: Path


@contextmanager
def arm_process(stack: BenchStack) -> Iterator[ArmEndpoint]:
    port, tls_port, tls_dir = free_port(), free_port(), stack.base / "arm-tls"
    service = arm_emulator(
        port, tls_port, None, tls_dir, stack.vault_urls[0], stack.cert, log_path=stack.logs / "arm.log"
    )
    service.start()
    try:
        service.wait_ready(60)
        yield ArmEndpoint(f"https://127.0.0.1:{port}", tls_port, tls_dir / "emulator-cert.pem")
    finally:
        service.stop()


class Arm:
    """Raw ARM calls for the setup (faster than the SDK for thousands of resources)."""

    def __init__(self, handle: ArmEndpoint) -> None:
        self.handle, self.http = handle, requests.Session()
        self.http.headers["Authorization"] = "Bearer bench"
        self.verify = str(handle.cert_path)  # per request: REQUESTS_CA_BUNDLE would override a session's

    def put(self, path: str, body: dict) -> dict:
        response = self.http.put(
            f"{self.handle.url}{path}",
            params={"api-version": _version(path)},
            json=body,
            timeout=60,
            verify=self.verify,
        )
        response.raise_for_status()
        return response.json() if response.content else {}

    def manage(self, method: str, what: str, **kw: object) -> dict:
        response = self.http.request(
            method, f"{self.handle.url}/_emulator/{what}", timeout=60, verify=self.verify, **kw
        )  # type: ignore[arg-type]
        response.raise_for_status()
        return response.json() if response.content else {}

    def counted(self) -> dict[str, int]:
        """Requests per ARM operation name (the emulator's own counters: `sites.put`, ...)."""
        counters = self.manage("GET", "counters")
        return {k: v for k, v in counters.items() if v and "." in k}


def _version(path: str) -> str:
    return API if "/providers/Microsoft.Web/" in path else "2025-04-01"


def run(
    stack: BenchStack, renewals: int, sweep_certificates: int, latency_ms: int, log: Callable[[str], None]
) -> Result:
    result = Result(sweep_certificates=sweep_certificates, sweep_latency_ms=latency_ms)
    with arm_process(stack) as handle:
        arm = Arm(handle)
        env = app_env(
            stack.connection,
            stack.vault_urls[0],
            stack.cert,
            CERTSYNC_TABLE_PREFIX="benchapp",
            OPERATIONS_QUEUE="bench-app-ops",
            APP_SERVICE_SUBSCRIPTIONS=SUB,
            ARM_ENDPOINT=handle.url,
            ARM_EMULATOR_CERT=str(handle.cert_path),
            KEY_VAULT_RESOURCE_ID=VAULT_ID,
        )
        port = free_port()
        host = env_only_host(port, env, stack.base / "app-host", log_path=stack.logs / "app-host.log")
        host.start()
        try:
            host.wait_ready(90)
            api = Api(f"http://127.0.0.1:{port}")
            log("App Service: 20 apps x 5 hostnames on the ARM emulator")
            hosts = _fleet(api, arm)
            result.hostnames = len(hosts)
            for i in range(renewals):
                arm.manage("POST", "reset")
                synced, served = _renew_until_served(api, handle, hosts)
                result.sync_latencies.append(synced)
                result.latencies.append(served)
                if i == 0:
                    result.sync_requests = arm.counted()
            arm.manage("POST", "reset")
            _naive_loop(arm, hosts)
            result.naive_requests = arm.counted()
        finally:
            host.stop()
        log(f"App Service: sweep over {sweep_certificates} certificate resources, 3 subscriptions")
        result.first_sweep, result.steady_sweep = _sweep(stack, arm, handle, sweep_certificates, latency_ms)
    return result


def _fleet(api: Api, arm: Arm) -> list[tuple[str, str, str]]:
    """One certificate for 100 hostnames, imported once in the group; 10 sites + 10 slots bound."""
    hosts = [f"h{i}.bench.example.com" for i in range(SITES * 2 * HOSTS_PER_APP)]
    op = api.call("POST", "certificates", {"name": "fleet", "hostnames": hosts, "keyType": "EC256"})
    api.wait_operation(op.headers["Location"])
    thumbprint = api.get("certificates/fleet")["thumbprint"]
    base = f"/subscriptions/{SUB}/resourceGroups/{GROUP}"
    arm.put(base, {"location": LOCATION})
    plan = arm.put(f"{base}/providers/Microsoft.Web/serverfarms/plan", {"location": LOCATION, "sku": {"name": "S1"}})
    imported = arm.put(
        f"{base}/providers/Microsoft.Web/certificates/fleet",
        {
            "location": LOCATION,
            "properties": {"keyVaultId": VAULT_ID, "keyVaultSecretName": "cert-fleet", "serverFarmId": plan["id"]},
        },
    )
    assert imported["properties"]["thumbprint"].upper() == thumbprint
    bound: list[tuple[str, str, str]] = []
    for s in range(SITES):
        site = f"bench-{os.urandom(3).hex()}"
        arm.put(
            f"{base}/providers/Microsoft.Web/sites/{site}",
            {"location": LOCATION, "properties": {"serverFarmId": plan["id"]}},
        )
        arm.put(f"{base}/providers/Microsoft.Web/sites/{site}/slots/staging", {"location": LOCATION})
        for a, app in enumerate((f"sites/{site}", f"sites/{site}/slots/staging")):
            for h in range(HOSTS_PER_APP):
                hostname = hosts[(s * 2 + a) * HOSTS_PER_APP + h]
                arm.put(
                    f"{base}/providers/Microsoft.Web/{app}/hostNameBindings/{hostname}",
                    {"properties": {"sslState": "SniEnabled", "thumbprint": thumbprint}},
                )
                bound.append((app, hostname, thumbprint))
    return bound


def _served(handle: ArmEndpoint, hostname: str) -> str:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", handle.tls_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True) or b""
    return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA1()).hex().upper()


def _renew_until_served(api: Api, handle: ArmEndpoint, hosts: list[tuple[str, str, str]]) -> tuple[float, float]:
    """Seconds from the renew request until the sync operation finished (ARM holds the new
    certificate on every binding), and until every hostname serves it over TLS. The TLS
    front is checked once the sync operation finished (and again until all serve it), so the
    polling does not load the emulator while certsync works."""
    old = api.get("certificates/fleet")["thumbprint"]
    started = time.monotonic()
    op = api.call("POST", "certificates/fleet/renew", {})
    api.wait_operation(op.headers["Location"], timeout=60)
    new = api.get("certificates/fleet")["thumbprint"]
    assert new != old
    _wait_sync_done(api, after=op.json()["createdAt"])
    synced = time.monotonic() - started
    pending = [h for _, h, _ in hosts]
    with ThreadPoolExecutor(4) as pool:
        while pending:
            if time.monotonic() - started > 120:
                raise RuntimeError(f"{len(pending)} hostnames still not serving the new certificate after 120 s")
            served = list(pool.map(lambda h: _served(handle, h), pending))
            pending = [h for h, thumbprint in zip(pending, served, strict=True) if thumbprint != new]
    return synced, time.monotonic() - started


def _wait_sync_done(api: Api, after: str) -> None:
    """The sync operation the renewal queued (created after `after`) has finished."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ops = api.get("operations?target=fleet&kind=syncCertificate&$top=1")["value"]
        if ops and ops[0]["createdAt"] > after and ops[0]["status"] in ("Succeeded", "Failed"):
            return
        time.sleep(0.02)
    raise RuntimeError("the sync operation after the renewal did not finish in 60 s")


def _naive_loop(arm: Arm, hosts: list[tuple[str, str, str]]) -> None:
    """What a loop over bindings does without discovery: per binding, read and re-import the
    certificate, then read, write and read back the binding."""
    base = f"{arm.handle.url}/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Web"
    params = {"api-version": API}
    for app, hostname, _ in hosts:
        cert = arm.http.get(f"{base}/certificates/fleet", params=params, timeout=30, verify=arm.verify).json()
        props = cert["properties"]
        arm.http.put(
            f"{base}/certificates/fleet",
            params=params,
            timeout=30,
            verify=arm.verify,
            json={
                "location": LOCATION,
                "properties": {k: props[k] for k in ("keyVaultId", "keyVaultSecretName", "serverFarmId")},
            },
        )
        binding = f"{base}/{app}/hostNameBindings/{hostname}"
        arm.http.get(binding, params=params, timeout=30, verify=arm.verify)
        arm.http.put(
            binding,
            params=params,
            timeout=30,
            verify=arm.verify,
            json={"properties": {"sslState": "SniEnabled", "thumbprint": props["thumbprint"]}},
        )
        arm.http.get(binding, params=params, timeout=30, verify=arm.verify)


def _sweep(
    stack: BenchStack, arm: Arm, handle: ArmEndpoint, count: int, latency_ms: int
) -> tuple[tuple[float, int], tuple[float, int]]:
    """`count` certificate resources importing one secret, one per resource group (App Service
    allows one resource per thumbprint and webspace), spread over three subscriptions."""

    def create(i: int) -> None:
        base = f"/subscriptions/{SWEEP_SUBS[i % 3]}/resourceGroups/sweep-{i}"
        arm.put(base, {"location": LOCATION})
        arm.put(
            f"{base}/providers/Microsoft.Web/certificates/c{i}",
            {"location": LOCATION, "properties": {"keyVaultId": VAULT_ID, "keyVaultSecretName": "cert-fleet"}},
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(count)))
    env = app_env(
        stack.connection,
        stack.vault_urls[0],
        stack.cert,
        CERTSYNC_TABLE_PREFIX=f"sweep{os.urandom(2).hex()}",
        APP_SERVICE_SUBSCRIPTIONS=",".join(SWEEP_SUBS),
        ARM_ENDPOINT=handle.url,
        ARM_EMULATOR_CERT=str(handle.cert_path),
        KEY_VAULT_RESOURCE_ID=VAULT_ID,
    )
    ctx = AppContext.from_settings(Settings.from_env(env))
    arm.manage("PUT", "faults", json={"latencyMs": latency_ms})
    try:
        figures = []
        for _ in range(2):
            arm.manage("POST", "reset")
            started = time.monotonic()
            appservice.sweep(ctx)
            figures.append((time.monotonic() - started, sum(arm.counted().values())))
    finally:
        arm.manage("DELETE", "faults")
    return figures[0], figures[1]


def describe(result: Result) -> str:
    return __doc__ or ""


def rows(result: Result) -> list[Row]:
    section = "App Service (ARM)"
    lat = result.latencies
    median, worst = (statistics.median(lat), max(lat)) if lat else (0.0, 0.0)
    sync_total, naive_total = sum(result.sync_requests.values()), sum(result.naive_requests.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(result.sync_requests.items()))
    first, steady = result.first_sweep, result.steady_sweep
    synced = result.sync_latencies
    return [
        Row(
            section,
            "renew -> sync done: certificate resource and every binding in ARM on it, median",
            f"{statistics.median(synced):.2f} s (max {max(synced):.2f} s)" if synced else "-",
        ),
        Row(
            section,
            f"renew -> {result.hostnames} hostnames serve it over TLS, median ({len(lat)} renewals)",
            f"{median:.2f} s",
            f"< {TARGET_S:.0f} s",
            median < TARGET_S,
        ),
        Row(section, "renew -> all served, max", f"{worst:.2f} s", f"< {TARGET_S:.0f} s", worst < TARGET_S),
        Row(section, "ARM requests, one certificate sync (certsync)", f"{sync_total} ({detail})"),
        Row(section, f"ARM requests, naive per-binding loop ({result.hostnames} bindings)", str(naive_total)),
        Row(
            section,
            f"first sweep, {result.sweep_certificates} resources / 3 subscriptions, +{result.sweep_latency_ms} ms",
            f"{first[0]:.1f} s, {first[1]} ARM requests",
        ),
        Row(section, "steady sweep (nothing changed)", f"{steady[0]:.1f} s, {steady[1]} ARM requests"),
    ]
