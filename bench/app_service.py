"""App Service in ARM, side by side in one run on the ARM emulator:

- renew -> every hostname of 20 apps x 5 hostnames (10 sites and their slots) serves the new
  certificate over TLS (the emulator's TLS front), median and max, with where the time goes;
- one TLS pass over those hostnames with one client context, against a new default context per
  handshake (how this bench polled before: that context load was most of the "served" figure);
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
import threading
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
from devtools.processes import arm_emulator, env_only_host, free_dns_port, free_port
from shared.app_context import AppContext
from shared.appservice import sync as appservice
from shared.settings import Settings

SUB = "11111111-1111-1111-1111-111111111111"
SWEEP_SUBS = (SUB, "22222222-2222-2222-2222-222222222222", "33333333-3333-3333-3333-333333333333")
VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/certsync-local/providers/Microsoft.KeyVault/vaults/local"
LOCATION, GROUP, SITES, HOSTS_PER_APP = "westeurope", "bench", 10, 5
API = "2025-05-01"
TARGET_S = 5.0
POLL_S = 0.02  # between polls of an operation, and of the TLS front while nothing serves the new certificate
TLS_WORKERS = 4


@dataclass(frozen=True)
class RenewalTiming:
    """Seconds after the renew POST at which each step was first seen."""

    renewal_picked_up: float  # the renewal operation left Queued
    renewed: float  # ... and Succeeded (the new version is in Key Vault)
    sync_picked_up: float  # the sync operation it queued left Queued
    synced: float  # ... and finished: ARM holds the new certificate on every binding
    first_served: float  # the first hostname served it over TLS
    all_served: float  # every hostname did


@dataclass
class Result:
    renewals: list[RenewalTiming] = field(default_factory=list)
    tls_pass: dict[str, float] = field(default_factory=dict)  # client context -> seconds for one pass
    hostnames: int = 0
    sync_requests: dict[str, int] = field(default_factory=dict)
    naive_requests: dict[str, int] = field(default_factory=dict)
    sweep_certificates: int = 0
    sweep_latency_ms: int = 0
    first_sweep: tuple[float, int] = (0.0, 0)  # seconds, ARM requests
    steady_sweep: tuple[float, int] = (0.0, 0)
    sweep_parts: SweepParts | None = None


@dataclass
class SweepParts:
    """Time the steady sweep spent in two of its parts (timed inside it)."""

    lists_seconds: float = 0.0  # managed_certificates: one paged certificate list per subscription
    certificates: int = 0
    index_seconds: float = 0.0  # ctx.links.list(): the link index the sweep compares against
    links: int = 0


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
        port, tls_port, None, tls_dir, stack.vault_urls[0], stack.cert, log_path=stack.logs / "arm.log",
        dns_port=free_dns_port(),  # not the default 8053, which a running `make run` holds
    )  # fmt: skip
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
            probe = TlsProbe(handle.tls_port)
            for i in range(renewals):
                arm.manage("POST", "reset")
                timing = _renew_until_served(api, probe, [h for _, h, _ in hosts])
                result.renewals.append(timing)
                log(f"App Service renewal {i + 1}/{renewals}: synced {timing.synced:.2f} s, "
                    f"all served {timing.all_served:.2f} s")  # fmt: skip
                if i == 0:
                    result.sync_requests = arm.counted()
            result.tls_pass = _tls_passes(probe, [h for _, h, _ in hosts])
            arm.manage("POST", "reset")
            _naive_loop(arm, hosts)
            result.naive_requests = arm.counted()
        finally:
            host.stop()
        log(f"App Service: sweep over {sweep_certificates} certificate resources, 3 subscriptions")
        result.first_sweep, result.steady_sweep, result.sweep_parts = _sweep(
            stack, arm, handle, sweep_certificates, latency_ms, log
        )
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


class TlsProbe:
    """Which certificate the TLS front serves for a hostname: one full handshake per look, with
    one client context for all of them. A new ssl.create_default_context() per handshake loads
    the system CA store (~25 ms of CPU each, serialised by the GIL across polling threads): that,
    not the emulator (~2 ms a handshake), was most of this bench's former "served over TLS" time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.context = _client_context()

    def thumbprint(self, hostname: str, context: ssl.SSLContext | None = None) -> str:
        with (
            socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw,
            (context or self.context).wrap_socket(raw, server_hostname=hostname) as tls,
        ):
            der = tls.getpeercert(binary_form=True) or b""
        return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA1()).hex().upper()


def _client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # what is served, trusted or not
    return context


def _renew_until_served(api: Api, probe: TlsProbe, hostnames: list[str]) -> RenewalTiming:
    """Renew, follow the renewal and the sync it queues, and watch the TLS front meanwhile (from the
    moment the new version exists: no hostname can serve it before) until every hostname serves it."""
    old = api.get("certificates/fleet")["thumbprint"]
    started = time.monotonic()
    location = api.call("POST", "certificates/fleet/renew", {}).headers["Location"]
    picked, renewed, op = _follow(api, location, started)
    new = api.get("certificates/fleet")["thumbprint"]
    sync = op.get("result", {}).get("syncOperation")
    if new == old or not sync:
        raise RuntimeError(f"the renewal left thumbprint {new} (was {old}) and queued sync {sync!r}")
    served: dict[str, float] = {}
    watcher = threading.Thread(target=_watch_tls, args=(probe, hostnames, new, started, served), daemon=True)
    watcher.start()
    sync_picked, synced, sync_op = _follow(api, f"/api/operations/{sync}", started)
    watcher.join(timeout=120)
    if sync_op["status"] != "Succeeded" or len(served) != len(hostnames):
        raise RuntimeError(f"sync {sync_op['status']} {sync_op.get('error')}; {len(served)}/{len(hostnames)} served")
    return RenewalTiming(picked, renewed, sync_picked, synced, min(served.values()), max(served.values()))


def _follow(api: Api, location: str, started: float) -> tuple[float, float, dict]:
    """Poll an operation: (seconds until it left Queued, seconds until it finished, its record)."""
    picked: float | None = None
    while True:
        op = api.operation(location)
        elapsed = time.monotonic() - started
        if picked is None and op["status"] != "Queued":
            picked = elapsed
        if op["status"] in ("Succeeded", "Failed"):
            return (elapsed if picked is None else picked), elapsed, op
        if elapsed > 120:
            raise RuntimeError(f"operation {location} still {op['status']} after 120 s")
        time.sleep(POLL_S)


def _watch_tls(probe: TlsProbe, hostnames: list[str], thumbprint: str, started: float, served: dict) -> None:
    """Record when each hostname first serves `thumbprint`. Until one does, a single hostname is
    polled (a pass over all would compete with the sync for the CPU); then passes over the rest."""
    pending = list(hostnames)
    with ThreadPoolExecutor(TLS_WORKERS) as pool:
        while pending and time.monotonic() - started < 120:
            batch = pending if served else pending[:1]
            now = list(pool.map(probe.thumbprint, batch))
            seen = time.monotonic() - started
            for hostname, got in zip(batch, now, strict=True):
                if got == thumbprint:
                    served[hostname] = seen
            pending = [h for h in pending if h not in served]
            if not served:
                time.sleep(POLL_S)


def _tls_passes(probe: TlsProbe, hostnames: list[str]) -> dict[str, float]:
    """Seconds for one pass over every hostname (TLS_WORKERS threads), per way of making the client context."""
    timed = {}
    for label, context in (("one client context", lambda: probe.context), ("a new context each", _client_context)):
        started = time.monotonic()
        with ThreadPoolExecutor(TLS_WORKERS) as pool:
            list(pool.map(lambda h, make=context: probe.thumbprint(h, make()), hostnames))
        timed[label] = time.monotonic() - started
    return timed


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
    stack: BenchStack, arm: Arm, handle: ArmEndpoint, count: int, latency_ms: int, log: Callable[[str], None]
) -> tuple[tuple[float, int], tuple[float, int], SweepParts]:
    """`count` certificate resources importing one secret, one per resource group (App Service
    allows one resource per thumbprint and webspace), spread over three subscriptions."""

    def create(i: int) -> None:
        base = f"/subscriptions/{SWEEP_SUBS[i % 3]}/resourceGroups/sweep-{i}"
        arm.put(base, {"location": LOCATION})
        arm.put(
            f"{base}/providers/Microsoft.Web/certificates/c{i}",
            {"location": LOCATION, "properties": {"keyVaultId": VAULT_ID, "keyVaultSecretName": "cert-fleet"}},
        )

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(count)))
    log(f"App Service: {count} certificate resources created in {time.monotonic() - started:.0f} s")
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
    parts = SweepParts()
    try:
        figures = []
        for _ in range(2):
            arm.manage("POST", "reset")
            parts = SweepParts()
            with _timed_parts(ctx, parts):
                started = time.monotonic()
                appservice.sweep(ctx)
                figures.append((time.monotonic() - started, sum(arm.counted().values())))
            log(f"App Service: sweep {len(figures)} took {figures[-1][0]:.1f} s, {figures[-1][1]} ARM requests")
    finally:
        arm.manage("DELETE", "faults")
    if parts.links < count:
        raise RuntimeError(f"the first sweep indexed {parts.links} links for {count} certificate resources")
    return figures[0], figures[1], parts


@contextmanager
def _timed_parts(ctx: AppContext, parts: SweepParts) -> Iterator[None]:
    """Time the sweep's certificate lists and link index read while it runs (the bench's own
    wrappers around two functions it calls; nothing else changes)."""
    listing, reading = appservice.managed_certificates, ctx.links.list

    def timed_listing(context: AppContext) -> list:
        started = time.monotonic()
        found = listing(context)
        parts.lists_seconds += time.monotonic() - started
        parts.certificates += len(found)
        return found

    def timed_reading(*args: object, **kwargs: object) -> list:
        started = time.monotonic()
        found = reading(*args, **kwargs)
        parts.index_seconds += time.monotonic() - started
        parts.links += len(found)
        return found

    appservice.managed_certificates = timed_listing  # type: ignore[assignment]
    ctx.links.list = timed_reading  # type: ignore[method-assign]
    try:
        yield
    finally:
        appservice.managed_certificates = listing  # type: ignore[assignment]
        ctx.links.list = reading  # type: ignore[method-assign]


def describe(result: Result) -> str:
    prose = __doc__ or ""
    r = result.renewals
    if r:
        queued, ran = _median(r, "renewal_picked_up"), _median(r, "renewed", "renewal_picked_up")
        sync_queued, moved = _median(r, "sync_picked_up", "renewed"), _median(r, "first_served", "sync_picked_up")
        confirmed, sync_ran = _median(r, "all_served", "first_served"), _median(r, "synced", "sync_picked_up")
        prose += f"""
Each renewal is followed through its operation records (polled every {POLL_S * 1000:.0f} ms) while the TLS front is
watched from the moment the renewal succeeded: one hostname until it serves the new certificate, then passes over
the rest ({TLS_WORKERS} threads, one client context). Where the time goes (medians): the renewal waited {queued:.2f} s
in the queue and ran {ran:.2f} s; the sync it queued waited {sync_queued:.2f} s in the queue; {moved:.2f} s after the
sync was picked up the first hostname served the new certificate (the sync lists the subscription's certificates
and the group's sites and slots, then PUTs the certificate resource again; the emulator moves all the webspace's
bindings with that re-import, in one request, and the TLS front sees a binding change at the next handshake);
{confirmed:.2f} s later the bench's passes had seen all {result.hostnames} hostnames serve it (about one pass: they
changed together). The sync finished {sync_ran:.2f} s after it was picked up (it reads the bindings back and indexes
them in Table Storage). The queue waits are the host polling an idle queue, which it backs off up to
`maxPollingInterval` (2 s in host.json): the part of the time that is neither the sync nor TLS.
"""
    parts = result.sweep_parts
    if parts is not None:
        steady = result.steady_sweep[0]
        rest = steady - parts.lists_seconds - parts.index_seconds
        first_each = (result.first_sweep[0] - steady) / max(result.sweep_certificates, 1) * 1000
        prose += f"""
The sweeps: every resource sits in its own resource group, so the first sweep lists each group's sites (one
request per resource) and indexes each link and its secret entry in Table Storage: about {first_each:.0f} ms per
resource beyond the steady sweep. Of the steady sweep's {steady:.1f} s, the paged certificate lists took
{parts.lists_seconds:.1f} s ({parts.certificates} resources deserialised by azure-mgmt-web, 50 a page, each page
+{result.sweep_latency_ms} ms), reading the link index {parts.index_seconds:.1f} s ({parts.links} rows), the rest
{rest:.1f} s (comparing each resource with its link, one Key Vault read for the secret, and any resource it syncs).
"""
    return prose


def _median(renewals: list[RenewalTiming], later: str, earlier: str | None = None) -> float:
    return statistics.median(getattr(r, later) - (getattr(r, earlier) if earlier else 0.0) for r in renewals)


def rows(result: Result) -> list[Row]:
    section = "App Service (ARM)"
    r = result.renewals
    served = [t.all_served for t in r]
    median, worst = (statistics.median(served), max(served)) if served else (0.0, 0.0)
    sync_total, naive_total = sum(result.sync_requests.values()), sum(result.naive_requests.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(result.sync_requests.items()))
    first, steady = result.first_sweep, result.steady_sweep
    synced = [t.synced for t in r]
    passes = result.tls_pass
    shared_pass, fresh_pass = passes.get("one client context", 0.0), passes.get("a new context each", 0.0)
    return [
        Row(
            section,
            f"renew -> {result.hostnames} hostnames serve it over TLS, median ({len(r)} renewals)",
            f"{median:.2f} s",
            f"< {TARGET_S:.0f} s",
            median < TARGET_S,
        ),
        Row(section, "renew -> all served, max", f"{worst:.2f} s", f"< {TARGET_S:.0f} s", worst < TARGET_S),
        Row(
            section,
            "  renew -> sync done (ARM holds it on every binding), median / max",
            f"{statistics.median(synced):.2f} s / {max(synced):.2f} s" if synced else "-",
        ),
        Row(
            section,
            "  median after the POST: renewal picked up / done / sync picked up / done / first served / all served",
            " / ".join(
                f"{_median(r, step):.2f}"
                for step in ("renewal_picked_up", "renewed", "sync_picked_up", "synced", "first_served", "all_served")
            )
            + " s"
            if r
            else "-",
        ),
        Row(
            section,
            f"one TLS pass over {result.hostnames} hostnames: one client context / a new default context each",
            f"{shared_pass:.2f} s / {fresh_pass:.2f} s ({fresh_pass / shared_pass:.1f}x)" if shared_pass else "-",
        ),
        Row(section, "ARM requests, one certificate sync (certsync)", f"{sync_total} ({detail})"),
        Row(section, f"ARM requests, naive per-binding loop ({result.hostnames} bindings)", str(naive_total)),
        Row(
            section,
            f"first sweep, {result.sweep_certificates} resources / 3 subscriptions, +{result.sweep_latency_ms} ms",
            f"{first[0]:.1f} s, {first[1]} ARM requests",
        ),
        Row(section, "steady sweep (nothing changed)", f"{steady[0]:.1f} s, {steady[1]} ARM requests"),
        Row(
            section,
            "  steady sweep's parts: certificate lists / reading the link index",
            f"{parts.lists_seconds:.1f} s / {parts.index_seconds:.1f} s" if (parts := result.sweep_parts) else "-",
        ),
    ]
