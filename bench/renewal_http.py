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


@dataclass(frozen=True)
class RenewalRun:
    """Seconds after the renew POST at which each step was first seen."""

    picked_up: float  # the renewal operation left Queued
    renewed: float  # ... and Succeeded
    sync_picked_up: float  # the sync operation it queued left Queued
    bindings_moved: float  # every binding carries the new thumbprint
    sync_location: str


@dataclass
class RenewalBench:
    links: int
    bindings: int
    runs: list[RenewalRun] = field(default_factory=list)

    @property
    def seconds(self) -> list[float]:
        return [run.bindings_moved for run in self.runs]

    def median_gap(self, later: str, earlier: str | None = None) -> float:
        """Median over the runs of (later step - earlier step), or of the later step alone."""
        return median(getattr(r, later) - (getattr(r, earlier) if earlier else 0.0) for r in self.runs)


def run(api: Api, repeats: int = 5, links: int = 5, hosts_per_link: int = 4, log=print) -> RenewalBench:
    apps = _set_up(api, links, hosts_per_link)
    bench = RenewalBench(links, links * hosts_per_link)
    for attempt in range(repeats):
        timed = _renew_once(api, apps)
        bench.runs.append(timed)
        log(f"renewal {attempt + 1}/{repeats}: picked up {timed.picked_up:.2f}s, renewed {timed.renewed:.2f}s, "
            f"sync picked up {timed.sync_picked_up:.2f}s, all bindings moved {timed.bindings_moved:.2f}s")  # fmt: skip
        api.wait_operation(timed.sync_location)  # runs apart: the next renewal starts from quiet
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


def _renew_once(api: Api, apps: list[str]) -> RenewalRun:
    before = _thumbprints(api, apps)
    started = time.perf_counter()
    location = api.call("POST", f"certificates/{CERTIFICATE}/renew", {}).headers["Location"]
    picked: float | None = None
    while True:  # bindings cannot move before the renewal is done: watch the operation first
        op = api.operation(location)
        elapsed = time.perf_counter() - started
        if op["status"] == "Failed":
            raise RuntimeError(f"renewal failed: {op.get('error')}")
        picked = elapsed if picked is None and op["status"] != "Queued" else picked
        if op["status"] == "Succeeded":
            renewed = elapsed
            break
        _check_deadline(elapsed, f"renewal operation still {op['status']}")
        time.sleep(POLL_SECONDS)
    sync = op.get("result", {}).get("syncOperation")
    if not sync:
        raise RuntimeError(f"the renewal queued no sync operation (is AUTO_SYNC_AFTER_RENEWAL on?): {op.get('result')}")
    sync_location, sync_picked = f"/api/operations/{sync}", None
    while True:
        if sync_picked is None and api.operation(sync_location)["status"] != "Queued":
            sync_picked = time.perf_counter() - started
        now = _thumbprints(api, apps)
        elapsed = time.perf_counter() - started
        if len(now) == 1 and not now & before:
            break
        _check_deadline(elapsed, f"bindings not all moved: {sorted(now)}")
        time.sleep(POLL_SECONDS)
    thumbprint = api.get(f"certificates/{CERTIFICATE}")["thumbprint"]
    if now != {thumbprint}:
        raise RuntimeError(f"bindings carry {now}, the certificate {thumbprint}")
    return RenewalRun(
        picked if picked is not None else renewed, renewed, sync_picked if sync_picked is not None else elapsed, elapsed, sync_location
    )


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
        Row(SECTION, "  median after the POST: renewal picked up / done / sync picked up",
            f"{bench.median_gap('picked_up'):.2f} s / {bench.median_gap('renewed'):.2f} s / {bench.median_gap('sync_picked_up'):.2f} s"),
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

Where the time goes (medians over the runs): the renewal operation waited {bench.median_gap('picked_up'):.2f} s in the queue
and ran {bench.median_gap('renewed', 'picked_up'):.2f} s; the sync operation it queued waited {bench.median_gap('sync_picked_up', 'renewed'):.2f} s in the queue, and
{bench.median_gap('bindings_moved', 'sync_picked_up'):.2f} s after it was picked up every binding read back the new thumbprint. The waits are the host
polling an idle queue, which it backs off up to `maxPollingInterval` ({_max_polling_interval()} in host.json).
"""


def _max_polling_interval() -> str:
    try:
        return json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]["maxPollingInterval"]
    except (OSError, ValueError, KeyError):
        return "unknown"
