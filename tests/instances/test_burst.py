"""A burst of 500 mixed requests spread over three instances, one killed (SIGKILL) midway.

The promises of issue #11 for a scaled-out app: every operation ends Succeeded (a killed
instance's messages come back after their lease and finish elsewhere), exactly one Key Vault
version per issuance, every link holds its secret's latest version and every binding its
link's thumbprint on a hostname the certificate covers, and each timer runs once per tick
(the dead lock holder's timers are taken over; missed ticks run once, past due).
"""
from __future__ import annotations

import itertools
import random
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

import shared.lifecycle
import shared.operations
from shared.auto_renew import run_auto_renew
from shared.clock import utcnow
from shared.lifecycle import start_renewal
from shared.model import CertificateStatus, OperationKind, OperationStatus
from shared.operations import STALE_AFTER, STRANDED_AFTER, repair_stranded

from .conftest import TICK_SECONDS, Fleet, Instance

pytestmark = pytest.mark.timeout(240)

CERTS = 30
NEW_CERTS = 20
CLIENTS = 12
PASSWORD = "correct horse battery staple"
TIMER_RUN = re.compile(
    r"Executing 'Functions\.(auto_renew|sync_sweep)' \(Reason='Timer fired at ([0-9T:.-]+)( \(past due\))?'"
)
FINAL = (OperationStatus.SUCCEEDED, OperationStatus.FAILED)
TAKEN_OVER = ("Abandoned", "Superseded")  # how an operation whose work another took over ends


@dataclass(frozen=True)
class Call:
    kind: str
    method: str
    path: str
    body: dict[str, Any] | None
    ok: tuple[int, ...]
    ok_on_retry: tuple[int, ...] = ()  # the first try may have landed on the instance that died


class Balancer:
    """Round robin over the live instances, like the front end; a request cut off by the
    kill is sent again to another instance."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._turn = itertools.count()
        self.unexpected: list[str] = []
        self.operations: list[str] = []
        self.cut_off: list[Call] = []  # requests the kill cut off: they may have half happened
        self._lock = threading.Lock()

    def send(self, call: Call) -> None:
        for attempt in range(8):
            live = self.fleet.live()
            instance = live[next(self._turn) % len(live)]
            try:
                response = requests.request(call.method, f"{instance.url}/api/{call.path}", json=call.body, timeout=90)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                with self._lock:
                    self.cut_off.append(call)
                time.sleep(0.2)
                continue
            allowed = call.ok + (call.ok_on_retry if attempt else ())
            with self._lock:  # a 412 (no request sends If-Match) is unexpected like any other
                if response.status_code not in allowed:
                    self.unexpected.append(f"{call.kind} {call.path}: {response.status_code} {response.text[:200]}")
                if response.status_code == 202:
                    self.operations.append(response.headers["Location"].rsplit("/", 1)[-1])
            return
        with self._lock:
            self.unexpected.append(f"{call.kind} {call.path}: no instance answered")

    def run(self, calls: list[Call], midway: Any = None) -> None:
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(self.send, call) for call in calls]
            if midway is not None:
                while sum(f.done() for f in futures) < len(futures) // 3:
                    time.sleep(0.05)
                midway()
            for future in futures:
                future.result()


def hostname(cert: int, k: int) -> str:
    return f"h{k}.c{cert}.burst.test"


def issue(name: str) -> Call:
    body = {"name": name, "hostnames": [f"{name}.burst.test", f"*.{name}.burst.test"], "keyType": "EC256"}
    return Call("issue", "POST", "certificates", body, (202,), (409,))


def setup_calls() -> tuple[list[Call], list[Call], list[Call]]:
    issues = [issue(f"c{i}") for i in range(CERTS)]
    links = [Call("link", "POST", "links", {"name": f"l{i}{s}", "certificate": f"c{i}"}, (201,), (409,))
             for i in range(CERTS) for s in ("a", "b", "d")]  # fmt: skip
    bindings = [Call("bind", "PUT", f"apps/app-{i % 10}/bindings/{hostname(i, k)}", {"link": f"l{i}a"}, (201,), (200,))
                for i in range(CERTS) for k in range(4)]  # fmt: skip
    return issues, links, bindings


def mixed_calls() -> list[Call]:
    calls: list[Call] = []
    for i in range(CERTS):
        calls += [
            Call("renew", "POST", f"certificates/c{i}/renew", {}, (202, 409)),
            Call("rekey", "POST", f"certificates/c{i}/rekey", {"keyType": "EC256"}, (202, 409)),
            Call("syncLink", "POST", f"links/l{i}b/sync", {}, (202,)),
            Call("export", "POST", f"certificates/c{i}/export", {"format": "pfx", "password": PASSWORD}, (200,)),
            Call("unlink", "DELETE", f"links/l{i}d", None, (204,), (404,)),
            Call("unbind", "DELETE", f"apps/app-{i % 10}/bindings/{hostname(i, 0)}", None, (204,), (404,)),
            Call("rebind", "PUT", f"apps/app-{i % 10}/bindings/{hostname(i, 1)}", {"link": f"l{i}b"}, (200,)),
        ]
        if i % 3 == 0:
            path = f"apps/app-{i % 10}/bindings/{hostname(i, 2)}"
            calls.append(Call("rebind", "PUT", path, {"link": f"l{i}b"}, (200,)))
        if i % 3 != 2:
            calls.append(Call("syncCertificate", "POST", f"certificates/c{i}/sync", {}, (202,)))
    calls += [issue(f"e{i}") for i in range(NEW_CERTS)]
    random.Random(11).shuffle(calls)
    return calls


def settled(op: Any) -> bool:
    """Final, or a sweep unit the timer queued moments ago (the timer keeps queueing them)."""
    young = op.created_at is not None and utcnow() - op.created_at < timedelta(seconds=20)
    return op.status in FINAL or (op.kind is OperationKind.SWEEP and young)


Excuse = Callable[[Any, list[Any]], bool]


def wait_all_finished(fleet: Fleet, timeout: float, excused: Excuse | None = None) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        ops = fleet.ctx.operations.list(limit=100_000)
        if all(settled(op) or (excused and excused(op, ops)) for op in ops) or time.monotonic() > deadline:
            return ops
        time.sleep(0.5)


def timer_holder(fleet: Fleet, function: str) -> Instance:
    runs = {i.name: len(re.findall(rf"Executing 'Functions\.{function}' \(Reason='Timer fired", i.log()))
            for i in fleet.live()}  # fmt: skip
    return next(i for i in fleet.live() if runs[i.name] == max(runs.values()))


def test_burst_over_three_instances_with_one_killed(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    balancer = Balancer(fleet)
    issues, links, bindings = setup_calls()
    mixed = mixed_calls()
    assert len(issues) + len(links) + len(bindings) + len(mixed) == 500

    balancer.run(issues)
    wait_all_finished(fleet, 60)
    balancer.run(links)
    balancer.run(bindings)
    killed: dict[str, Any] = {}

    def kill_the_sweep_holder() -> None:
        victim = timer_holder(fleet, "sync_sweep")
        killed.update(instance=victim, at=datetime.now())
        victim.kill()

    balancer.run(mixed, midway=kill_the_sweep_holder)
    assert not balancer.unexpected, "\n".join(balancer.unexpected)
    print(f"cut off by the kill: {[c.kind + ' ' + c.path for c in balancer.cut_off]}")

    cut_targets = {_target(call) for call in balancer.cut_off}

    def half_done(op: Any, ops: list[Any]) -> bool:  # cut off or never queued, the dead instance's lease is over
        late = datetime.now() - killed["at"] > timedelta(seconds=35)
        return late and (op.target in cut_targets or _stranded(op))

    ops = wait_all_finished(fleet, 90, excused=half_done)
    stalled = [op for op in ops if not settled(op) and not _stranded(op)]
    assert {op.target for op in stalled} <= cut_targets, f"stalled without a request cut off: {stalled}"
    # half-done requests and records never queued: what a later auto_renew, request or sweep tick takes over
    _take_over_after_staleness(fleet, monkeypatch)
    ops = wait_all_finished(fleet, 60)
    unfinished = [(op.kind.value, op.target, op.status.value) for op in ops if not settled(op)]
    assert not unfinished, f"operations left unfinished: {unfinished}"
    # a cut-off operation the takeover replaced ends Abandoned (the takeover closed it first) or
    # Superseded (its redelivery, after the dead instance's lease, found the new owner first)
    failed = [(op.kind.value, op.target, op.error_code, op.error_message)
              for op in ops if op.status == OperationStatus.FAILED
              and not (op.error_code in TAKEN_OVER and op.target in cut_targets)]  # fmt: skip
    assert not failed, f"operations failed: {failed}"
    assert set(balancer.operations) <= {op.id for op in ops}
    certificates = fleet.ctx.certificates.list()
    assert len(certificates) == CERTS + NEW_CERTS
    assert all(c.has_been_issued and c.status is CertificateStatus.ISSUED for c in certificates), certificates
    exports = Counter(op.kind.value for op in ops)["export"]  # one cut off after it was recorded is sent again
    assert CERTS <= exports <= CERTS + sum(1 for call in balancer.cut_off if call.kind == "export")

    time.sleep(2 * TICK_SECONDS)  # one more sweep over the settled state
    _assert_one_version_per_issuance(fleet, ops)
    _assert_links_and_bindings_valid(fleet)
    _assert_each_tick_ran_once(fleet, killed["instance"], killed["at"])


def _stranded(op: Any) -> bool:
    """Recorded by an instance that died before queueing it (a follow-up sync of a renewal, or a
    request cut off): still Queued, left to the sweep tick's repair (run below, clock moved on)."""
    return op.status is OperationStatus.QUEUED


def _target(call: Call) -> str:
    if call.kind == "issue" and call.body:
        return str(call.body["name"])
    return call.path.split("/")[1]


def _take_over_after_staleness(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """What happens 26 minutes later, run here with the clock moved on: auto_renew resumes a
    first issuance left behind (operation or message never written), a new renew or rekey
    takes a dead claim over, the sweep tick queues again operations whose message was lost."""
    later = utcnow() + STRANDED_AFTER + timedelta(seconds=fleet.ctx.settings.auto_renew_jitter_seconds + 60)
    claims = {CertificateStatus.RENEWING: OperationKind.RENEW, CertificateStatus.REKEYING: OperationKind.REKEY}
    with monkeypatch.context() as patch:
        patch.setattr(shared.operations, "utcnow", lambda: later)
        patch.setattr(shared.lifecycle, "operation_age", lambda op_id: STALE_AFTER)
        run_auto_renew(fleet.ctx, now=later)
        repair_stranded(fleet.ctx, now=later)
        for cert in fleet.ctx.certificates.list():
            if cert.status in claims and not shared.lifecycle.operation_running(fleet.ctx, cert.active_operation):
                start_renewal(fleet.ctx, cert.name, claims[cert.status], {}, "burst test")


def _assert_one_version_per_issuance(fleet: Fleet, ops: list[Any]) -> None:
    issuing = defaultdict(set)
    statuses = {op.id: op.status for op in ops}
    for op in ops:
        if op.kind.value in ("issue", "renew", "rekey"):
            issuing[op.target].add(op.id)
    for cert in fleet.ctx.certificates.list():
        versions = list(fleet.secrets.list_properties_of_secret_versions(cert.secret_name))
        tagged = Counter((v.tags or {}).get("operation") for v in versions)
        assert all(n == 1 for n in tagged.values()), f"{cert.name}: an operation wrote two versions: {tagged}"
        succeeded = {op_id for op_id in issuing[cert.name] if statuses[op_id] == OperationStatus.SUCCEEDED}
        assert succeeded <= set(tagged) <= issuing[cert.name], f"{cert.name}: {set(tagged)} vs {issuing[cert.name]}"
        latest = fleet.secrets.get_secret(cert.secret_name).properties
        assert cert.secret_version == latest.version, f"{cert.name}: {cert.secret_version}, latest {latest.version}"
        assert cert.thumbprint == (latest.tags or {}).get("thumbprint")


def _covers(names: tuple[str, ...] | list[str], host: str) -> bool:
    return host in names or f"*.{host.split('.', 1)[1]}" in names


def _assert_links_and_bindings_valid(fleet: Fleet) -> None:
    links = {link.name: link for link in fleet.ctx.links.list()}
    assert not [name for name in links if name.endswith("d")], "deleted links are back"
    assert len(links) == 2 * CERTS
    now = datetime.now().astimezone()
    for link in links.values():
        secret = fleet.secrets.get_secret(link.secret_id.rsplit("/", 1)[-1]).properties
        assert link.version == secret.version, f"{link.name} holds {link.version}, the secret is at {secret.version}"
        assert link.thumbprint == (secret.tags or {}).get("thumbprint")
        assert link.not_after is not None and link.not_after > now
    bindings = [b for app in range(10) for b in fleet.ctx.bindings.for_app(f"app-{app}")]
    assert len(bindings) == 3 * CERTS
    for binding in bindings:
        link = links[binding.link]
        assert binding.thumbprint == link.thumbprint, f"{binding.hostname} lags its link {link.name}"
        assert _covers(link.hostnames, binding.hostname)
        cert = int(binding.hostname.split(".")[1][1:])
        moved = binding.hostname == hostname(cert, 1) or (cert % 3 == 0 and binding.hostname == hostname(cert, 2))
        assert binding.link == (f"l{cert}b" if moved else f"l{cert}a")
        assert binding.hostname != hostname(cert, 0)


def _timer_runs(fleet: Fleet) -> dict[str, list[tuple[str, datetime, bool]]]:
    runs: dict[str, list[tuple[str, datetime, bool]]] = defaultdict(list)
    for instance in fleet.instances:
        for function, moment, past_due in TIMER_RUN.findall(instance.log()):
            runs[function].append((instance.name, datetime.fromisoformat(moment), bool(past_due)))
    return runs


def _assert_each_tick_ran_once(fleet: Fleet, victim: Instance, killed_at: datetime) -> None:
    tick = timedelta(seconds=TICK_SECONDS)
    for function, runs in _timer_runs(fleet).items():
        scheduled = sorted(moment for _, moment, past_due in runs if not past_due)
        past = sorted(moment for _, moment, past_due in runs if past_due)
        twice = [t for t, n in Counter(scheduled).items() if n > 1]
        assert not twice, f"{function}: ticks ran twice: {twice}"
        before = {name for name, moment, _ in runs if moment < killed_at - tick}
        # at most one instance ran it (none when the first run was still going at the kill)
        assert len(before) <= 1, f"{function} ran on {before} before the kill; a timer runs on one instance"
        after = {name for name, moment, _ in runs if moment > killed_at + 2 * tick}
        assert victim.name not in after and len(after) == 1
        assert any(m > killed_at + 2 * tick for m in scheduled), f"{function} stopped after the kill"
        ticks = set(scheduled)
        expected = [scheduled[0] + n * tick for n in range(int((scheduled[-1] - scheduled[0]) / tick) + 1)]
        missing = [t for t in expected if t not in ticks]
        for t in missing:  # only while the dead holder's lease ran out, then made up once
            assert any(t < p <= t + timedelta(seconds=40) for p in past), f"{function}: tick {t} never ran: {past}"
        assert len(past) <= 1, f"{function}: more than one past-due run: {past}"
        if victim.name in before:
            assert len(past) == 1, f"{function}: the takeover did not run the missed tick"
