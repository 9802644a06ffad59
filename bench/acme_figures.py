"""Section 4: issue and renew through certsync's operations against real Pebble, with real
DNS-01 validation through pebble-challtestsrv (the test rig's processes, on free ports)."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bench.figures import _context, drain
from bench.measure import Stopwatch, median
from bench.report import Row
from bench.stack import BenchStack
from devtools.challtestsrv_dns import ChallTestSrvProvider
from shared.lifecycle import NewCertificate, create_certificate, start_renewal
from shared.model import OperationKind, OperationStatus
from tests.acme.conftest import CHALLTESTSRV, free_port, start_pebble, start_process, tcp_open, wait_until

SECTION = "ACME (Pebble)"


@contextmanager
def pebble_and_challtestsrv() -> Iterator[tuple[str, Path, str]]:
    """(directory URL, Pebble's TLS CA bundle, challtestsrv management URL)."""
    workdir = Path(tempfile.mkdtemp(prefix="certsync-bench-acme-"))
    dns_port, management_port = free_port(udp_too=True), free_port()
    dns = start_process("challtestsrv", [CHALLTESTSRV, "-dns01", f"127.0.0.1:{dns_port}",
                        "-management", f"127.0.0.1:{management_port}", "-http01", "", "-https01", "", "-tlsalpn01", ""],
                        workdir)  # fmt: skip
    pebble = None
    try:
        wait_until(dns, lambda: tcp_open(management_port) and tcp_open(dns_port))
        pebble = start_pebble(workdir, f"127.0.0.1:{dns_port}")
        yield pebble.directory_url, pebble.ca_bundle, f"http://127.0.0.1:{management_port}"
    finally:
        if pebble:
            pebble.process.stop()
        dns.stop()


def run(stack: BenchStack, repeats: int = 5) -> tuple[list[float], list[float]]:
    with pebble_and_challtestsrv() as (directory, bundle, challtestsrv):
        ctx, _ = _context(stack, "benchacme", ACME_DIRECTORY_URL=directory, ACME_CA_BUNDLE=str(bundle))
        ctx.dns = ChallTestSrvProvider(challtestsrv)  # the DNS double, wired in as the tests do
        _issue(ctx, "acme-warmup")  # registers the ACME account and stores its key: not part of the figure
        issue, renew = [], []
        for index in range(repeats):
            name = f"acme-{index}"
            with Stopwatch() as watch:
                _issue(ctx, name)
            issue.append(watch.seconds)
            with Stopwatch() as watch:
                op = start_renewal(ctx, name, OperationKind.RENEW, {})
                drain(ctx)
            _check(ctx, op.id, name)
            renew.append(watch.seconds)
        return issue, renew


def _issue(ctx, name: str) -> None:
    op = create_certificate(ctx, NewCertificate(name=name, hostnames=(f"{name}.bench.test", f"*.{name}.bench.test"), issuer="acme"))
    drain(ctx)
    _check(ctx, op.id, name)


def _check(ctx, op_id: str, name: str) -> None:
    op = ctx.operations.get(op_id)
    if op.status is not OperationStatus.SUCCEEDED:
        raise RuntimeError(f"ACME {op.kind.value} of {name} failed: {op.error_code}: {op.error_message}")


def rows(result: tuple[list[float], list[float]]) -> list[Row]:
    issue, renew = result
    return [
        Row(SECTION, f"issue (create + DNS-01 + finalize + store), median / max of {len(issue)}",
            f"{median(issue):.2f} s / {max(issue):.2f} s"),  # fmt: skip
        Row(SECTION, f"renew (new key, new order), median / max of {len(renew)}", f"{median(renew):.2f} s / {max(renew):.2f} s"),
    ]


DESCRIPTION = """
Through certsync's operations in the bench's process (`create_certificate` / `start_renewal`, then the queued
operation run as the queue trigger would), with `issuer: acme` against Debian's Pebble and real DNS-01 validation
through pebble-challtestsrv (`PEBBLE_VA_NOSLEEP=1`: Pebble validates at once instead of sleeping up to 5 s).
Two names per certificate (`name.bench.test`, `*.name.bench.test`), RSA 2048 keys, the ACME account key in the Key Vault
emulator (registered by an untimed first issuance). A public CA adds its own validation delay and DNS propagation
(certsync waits 30 s for Azure DNS), so read these as certsync's own overhead.
"""
