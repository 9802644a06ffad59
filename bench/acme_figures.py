"""Section 4: issue and renew through certsync's operations against real Pebble, with real
DNS-01 validation through pebble-challtestsrv (the test rig's processes, on free ports)."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.dns.models import Zone
from azure.mgmt.resource.resources import ResourceManagementClient

from bench.figures import _context, drain
from bench.measure import Stopwatch, median
from bench.report import Row
from bench.stack import BenchStack
from devtools.arm_emulator import start_emulator
from devtools.challtestsrv_dns import ChallTestSrvProvider
from devtools.processes import free_dns_port, free_port
from shared.credentials import EmulatorCredential
from shared.lifecycle import NewCertificate, create_certificate, start_renewal
from shared.model import OperationKind, OperationStatus
from tests.acme.conftest import CHALLTESTSRV, start_pebble, start_process, tcp_open, wait_until

SECTION = "ACME (Pebble)"


@contextmanager
def pebble_and_challtestsrv() -> Iterator[tuple[str, Path, str]]:
    """(directory URL, Pebble's TLS CA bundle, challtestsrv management URL)."""
    workdir = Path(tempfile.mkdtemp(prefix="certsync-bench-acme-"))
    dns_port, management_port = free_dns_port(), free_port()
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


AZURE_SUBSCRIPTION, AZURE_GROUP, AZURE_ZONE = "44444444-4444-4444-8444-444444444444", "bench-dns", "bench.test"


def run_azure(stack: BenchStack, repeats: int = 5) -> list[float]:
    """Issue with DNS_PROVIDER=azure: TXT values through the ARM emulator, read by Pebble from its DNS port."""
    workdir = Path(tempfile.mkdtemp(prefix="certsync-bench-azure-dns-"))
    with start_emulator(dns_port=0) as arm:
        options = {"base_url": arm.url, "connection_verify": str(arm.cert_path)}
        credential = EmulatorCredential()
        with ResourceManagementClient(credential, AZURE_SUBSCRIPTION, **options) as groups:  # type: ignore[arg-type]
            groups.resource_groups.create_or_update(AZURE_GROUP, {"location": "westeurope"})
        with DnsManagementClient(credential, AZURE_SUBSCRIPTION, **options) as dns:  # type: ignore[arg-type]
            dns.zones.create_or_update(AZURE_GROUP, AZURE_ZONE, Zone(location="global"))
        pebble = start_pebble(workdir, f"127.0.0.1:{arm.dns_port}")
        try:
            ctx, _ = _context(stack, "benchazdns", ACME_DIRECTORY_URL=pebble.directory_url,
                              ACME_CA_BUNDLE=str(pebble.ca_bundle), DNS_PROVIDER="azure", ARM_ENDPOINT=arm.url,
                              ARM_EMULATOR_CERT=str(arm.cert_path),
                              AZURE_DNS_ZONE_SCOPES=f"{AZURE_SUBSCRIPTION}/{AZURE_GROUP}")  # fmt: skip
            _issue(ctx, "azdns-warmup")  # the ACME account and the zone listing: not part of the figure
            seconds = []
            for index in range(repeats):
                with Stopwatch() as watch:
                    _issue(ctx, f"azdns-{index}")
                seconds.append(watch.seconds)
            return seconds
        finally:
            pebble.process.stop()


def azure_rows(issue: list[float]) -> list[Row]:
    return [Row(SECTION, f"issue through Azure DNS (ARM emulator + its DNS server), median / max of {len(issue)}",
                f"{median(issue):.2f} s / {max(issue):.2f} s")]  # fmt: skip


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
(certsync waits 30 s for Azure DNS), so read these as certsync's own overhead. The Azure DNS row issues with
`DNS_PROVIDER=azure`: the TXT values go through azure-mgmt-dns to the ARM emulator (in the bench's process; ETag
read-modify-write per value), Pebble reads them from the emulator's DNS server; no propagation wait against the emulator.
Pebble sends no Retry-After while it validates, and validates in tens of milliseconds: certsync polls a pending order
again after 0.1 s, doubling up to 1 s. With a fixed 1 s wait (before 2026-11-30) an issue took either ~0.1 s or ~1.1 s
depending on whether the first poll came after Pebble had finished, which is what made the Azure DNS path look slower
(its validation, through the emulator's DNS server in the bench's own process, finished later more often); the two
paths now differ by the ARM record-set writes (a GET and a PUT per TXT value, and the same to remove it).
"""
