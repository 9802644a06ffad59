"""Section 2: renew a certificate over HTTP and time it until every SSL binding that uses it
carries the new thumbprint (AUTO_SYNC_AFTER_RENEWAL=true, the local host running the queue).

The clock starts before POST /api/certificates/{name}/renew and stops at the first poll of
GET /api/apps/{app}/bindings that shows every binding on one new thumbprint, which must be the
certificate's own.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from bench.api import Api
from bench.measure import median
from bench.report import Row
from devtools.processes import ROOT

SECTION = "renew -> bindings"
CERTIFICATE = "renewbench"
POLL_SECONDS = 0.02


@dataclass
class RenewalBench:
    links: int
    bindings: int
    seconds: list[float] = field(default_factory=list)  # renew POST -> all bindings moved
    picked_up_after: list[float] = field(default_factory=list)  # renew POST -> operation seen out of Queued
    renewed_after: list[float] = field(default_factory=list)  # renew POST -> renewal operation done


def run(api: Api, repeats: int = 5, links: int = 5, hosts_per_link: int = 4, log=print) -> RenewalBench:
    apps = _set_up(api, links, hosts_per_link)
    bench = RenewalBench(links, links * hosts_per_link)
    for attempt in range(repeats):
        total, picked, renewed, sync_location = _renew_once(api, apps)
        bench.seconds.append(total)
        bench.picked_up_after.append(picked)
        bench.renewed_after.append(renewed)
        log(f"renewal {attempt + 1}/{repeats}: picked up after {picked:.2f}s, renewed after {renewed:.2f}s, "
            f"all bindings after {total:.2f}s")  # fmt: skip
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


def _renew_once(api: Api, apps: list[str]) -> tuple[float, float, float, str]:
    """(all bindings moved, operation picked up, operation done) in seconds after the POST,
    and the location of the sync operation the renewal queued."""
    before = _thumbprints(api, apps)
    started = time.perf_counter()
    location = api.call("POST", f"certificates/{CERTIFICATE}/renew", {}).headers["Location"]
    picked: float | None = None
    while True:  # bindings cannot move before the renewal is done: watch the operation first
        op = api.operation(location)
        elapsed = time.perf_counter() - started
        if op["status"] == "Failed":
            raise RuntimeError(f"renewal failed: {op.get('error')}")
        if op["status"] != "Queued" and picked is None:
            picked = elapsed
        if op["status"] == "Succeeded":
            renewed = elapsed
            break
        _check_deadline(elapsed, f"renewal operation still {op['status']}")
        time.sleep(POLL_SECONDS)
    while True:
        now = _thumbprints(api, apps)
        elapsed = time.perf_counter() - started
        if len(now) == 1 and not now & before:
            break
        _check_deadline(elapsed, f"bindings not all moved: {sorted(now)}")
        time.sleep(POLL_SECONDS)
    thumbprint = api.get(f"certificates/{CERTIFICATE}")["thumbprint"]
    if now != {thumbprint}:
        raise RuntimeError(f"bindings carry {now}, the certificate {thumbprint}")
    sync = op.get("result", {}).get("syncOperation")
    return elapsed, picked if picked is not None else renewed, renewed, f"/api/operations/{sync}" if sync else ""


def _check_deadline(elapsed: float, what: str, limit: float = 60) -> None:
    if elapsed > limit:
        raise RuntimeError(f"{what} after {limit:.0f} s")


def _thumbprints(api: Api, apps: list[str]) -> set[str]:
    return {b["thumbprint"] for app in apps for b in api.get(f"apps/{app}/bindings")["value"]}


def rows(bench: RenewalBench) -> list[Row]:
    return [
        Row(SECTION, f"renew -> all {bench.bindings} bindings updated, median / max of {len(bench.seconds)}",
            f"{median(bench.seconds):.2f} s / {max(bench.seconds):.2f} s", "< 5 s each (App Service: up to 48 h)",
            max(bench.seconds) < 5),
        Row(SECTION, "  renewal operation: picked up from the queue / done, median",
            f"{median(bench.picked_up_after):.2f} s / {median(bench.renewed_after):.2f} s after the POST"),
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

Where the time goes: the renewal operation left `Queued` a median {median(bench.picked_up_after):.2f} s after the POST and was done
at {median(bench.renewed_after):.2f} s; the bindings had all moved at {median(bench.seconds):.2f} s. Most of it is the wait for the
host's next poll of an idle queue, which backs off up to `maxPollingInterval` ({_max_polling_interval()} in host.json), not work.
"""


def _max_polling_interval() -> str:
    try:
        return json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]["maxPollingInterval"]
    except (OSError, ValueError, KeyError):
        return "see"
