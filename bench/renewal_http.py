"""Section 2: renew a certificate over HTTP and time it until every SSL binding that uses it
carries the new thumbprint (AUTO_SYNC_AFTER_RENEWAL=true, the local host running the queue).

The clock starts before POST /api/certificates/{name}/renew and stops at the first poll of
GET /api/apps/{app}/bindings that shows every binding on one new thumbprint, which must be the
certificate's own.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.api import Api
from bench.measure import median
from bench.report import Row

SECTION = "renew -> bindings"
CERTIFICATE = "renewbench"
POLL_SECONDS = 0.02


@dataclass
class RenewalBench:
    links: int
    bindings: int
    seconds: list[float] = field(default_factory=list)  # renew POST -> all bindings moved
    renewed_after: list[float] = field(default_factory=list)  # renew POST -> renewal operation done


def run(api: Api, repeats: int = 5, links: int = 5, hosts_per_link: int = 4, log=print) -> RenewalBench:
    apps = _set_up(api, links, hosts_per_link)
    bench = RenewalBench(links, links * hosts_per_link)
    for attempt in range(repeats):
        total, renewed, sync_location = _renew_once(api, apps)
        bench.seconds.append(total)
        bench.renewed_after.append(renewed)
        log(f"renewal {attempt + 1}/{repeats}: renewed after {renewed:.2f}s, all bindings after {total:.2f}s")
        if sync_location:
            api.wait_operation(sync_location)  # runs apart: the next renewal starts from quiet
    return bench


def _set_up(api: Api, links: int, hosts_per_link: int) -> list[str]:
    created = api.call("POST", "certificates", {"name": CERTIFICATE, "hostnames": ["renew.bench.test", "*.renew.bench.test"]})
    api.wait_operation(created.headers["Location"])
    apps = []
    for k in range(links):
        link, app = f"{CERTIFICATE}-{k}", f"renew-app-{k}"
        api.call("POST", "links", {"name": link, "scope": "bench", "certificate": CERTIFICATE})
        for h in range(hosts_per_link):
            api.call("PUT", f"apps/{app}/bindings/h{h}-l{k}.renew.bench.test", {"link": link})
        apps.append(app)
    return apps


def _renew_once(api: Api, apps: list[str]) -> tuple[float, float, str]:
    before = _thumbprints(api, apps)
    started = time.perf_counter()
    location = api.call("POST", f"certificates/{CERTIFICATE}/renew", {}).headers["Location"]
    renewed, op = None, {}
    while True:
        if renewed is None:
            op = api.operation(location)
            if op["status"] == "Failed":
                raise RuntimeError(f"renewal failed: {op.get('error')}")
            if op["status"] == "Succeeded":
                renewed = time.perf_counter() - started
        now = _thumbprints(api, apps)
        if len(now) == 1 and not now & before:
            total = time.perf_counter() - started
            break
        if time.perf_counter() - started > 60:
            raise RuntimeError(f"bindings not all moved after 60 s: {now}")
        time.sleep(POLL_SECONDS)
    if renewed is None:  # bindings moved before we saw the operation finish (cannot, but be exact)
        op = api.wait_operation(location)
        renewed = total
    thumbprint = api.get(f"certificates/{CERTIFICATE}")["thumbprint"]
    if now != {thumbprint}:
        raise RuntimeError(f"bindings carry {now}, the certificate {thumbprint}")
    sync = op.get("result", {}).get("syncOperation")
    return total, renewed, f"/api/operations/{sync}" if sync else ""


def _thumbprints(api: Api, apps: list[str]) -> set[str]:
    return {b["thumbprint"] for app in apps for b in api.get(f"apps/{app}/bindings")["value"]}


def rows(bench: RenewalBench) -> list[Row]:
    return [
        Row(SECTION, f"renew -> all {bench.bindings} bindings updated, median / max of {len(bench.seconds)}",
            f"{median(bench.seconds):.2f} s / {max(bench.seconds):.2f} s", "< 5 s each (App Service: up to 48 h)",
            max(bench.seconds) < 5),
        Row(SECTION, "  of which: renew -> renewal operation done, median",
            f"{median(bench.renewed_after):.2f} s"),
    ]  # fmt: skip


def describe(bench: RenewalBench) -> str:
    return f"""
Over real HTTP against the local function host (`python -m devtools.local_host`), Azurite and the Key Vault
emulator (same added latency): a local-CA certificate (default RSA 2048 key), {bench.links} links to it
(`POST /api/links`) and {bench.bindings} bindings (`PUT /api/apps/{{app}}/bindings/{{hostname}}`, {bench.bindings // bench.links} hostnames
under its wildcard per link, one app per link), `AUTO_SYNC_AFTER_RENEWAL=true`. Each run times
`POST /api/certificates/{{name}}/renew` until every binding read back through `GET /api/apps/{{app}}/bindings`
carries the new thumbprint (polled every {POLL_SECONDS * 1000:.0f} ms). The renewal operation issues and stores the
new version, then queues the certificate's sync operation, which the host's queue listener picks up.
"""
