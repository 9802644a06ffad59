"""Section 3: smaller figures for the closing notes.

- issuing one local-CA certificate through the service (create_certificate + running its
  queued operation in-process, as the queue trigger would);
- the certificate overview (`GET /api/certificates/{name}`) with 100 links on the certificate;
- an auto-renew run over 1,000 certificates of which 10 are due (it only enqueues).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from bench.api import Api
from bench.measure import Stopwatch, VaultRequests, counting_context, median
from bench.report import Row
from bench.stack import BenchStack, app_env
from shared.app_context import AppContext
from shared.auto_renew import run_auto_renew
from shared.clock import utcnow
from shared.composition import build_engine
from shared.lifecycle import NewCertificate, create_certificate, secret_name_for
from shared.links import BindingRequest, NewLink, create_link, put_binding
from shared.model import Certificate, CertificateStatus, OperationStatus
from shared.overview import certificate_overview
from shared.queueing import parse_message
from shared.settings import Settings

SECTION = "smaller figures"
ENGINE = build_engine()


@dataclass
class Figure:
    """Repeated timings of one thing, plus the requests one repetition makes."""

    seconds: list[float]
    kv_requests: float
    table_requests: float = -1  # -1: not counted (the request ran in the host's process)
    note: str = ""


def drain(ctx: AppContext) -> None:
    """Run the queued operations here, as the queue trigger would, until the queue is empty."""
    while messages := list(ctx.queue.client.receive_messages(messages_per_page=32, visibility_timeout=60)):
        for message in messages:
            ENGINE.run(ctx, parse_message(message.content))
            ctx.queue.client.delete_message(message)


def issuance(stack: BenchStack, repeats: int = 5) -> Figure:
    ctx, tables = _context(stack, "benchissue")
    _issue(ctx, "issue-warmup")  # loads the local CA (creates it in an empty vault): not part of the figure
    kv, tables_before, seconds = VaultRequests(stack.admins), tables.total, []
    with kv.measure():
        for index in range(repeats):
            with Stopwatch() as watch:
                _issue(ctx, f"issue-{index}")
            seconds.append(watch.seconds)
    return Figure(seconds, kv.total / repeats, (tables.total - tables_before) / repeats, "default key type RSA 2048")


def _issue(ctx: AppContext, name: str, hostnames: tuple[str, ...] = ()) -> None:
    op = create_certificate(ctx, NewCertificate(name=name, hostnames=hostnames or (f"{name}.bench.test",)))
    drain(ctx)
    if ctx.operations.get(op.id).status is not OperationStatus.SUCCEEDED:
        raise RuntimeError(f"issuing {name} failed: {ctx.operations.get(op.id).error_message}")


def overview(stack: BenchStack, host_prefix: str | None, links: int = 100, repeats: int = 20) -> Figure:
    """Set up in-process (in the host's tables when it runs), then time GET over HTTP, or
    certificate_overview in-process when there is no host."""
    ctx, tables = _context(stack, host_prefix or "benchoverview", queue="bench-overview")
    name = "overviewbench"
    _issue(ctx, name, ("overview.bench.test", "*.overview.bench.test"))
    for k in range(links):
        create_link(ctx, NewLink(name=f"{name}-{k:03d}", scope="bench", certificate=name))
        put_binding(ctx, BindingRequest(app=f"overview-app-{k % 10}", hostname=f"h{k}.overview.bench.test", link=f"{name}-{k:03d}"))
    if host_prefix:
        api = Api(stack.host_url)
        fetch: Callable[[], object] = lambda: api.get(f"certificates/{name}")
        how = "GET over HTTP"
    else:
        fetch, how = (lambda: certificate_overview(ctx, name)), "in-process certificate_overview (no host)"
    body = fetch()
    shown = len(body["linkedCertificates"]) if isinstance(body, dict) else len(body.links)
    if shown != links:
        raise RuntimeError(f"the overview shows {shown} links, expected {links}")
    kv, tables_before, seconds = VaultRequests(stack.admins), tables.total, []
    with kv.measure():
        for _ in range(repeats):
            with Stopwatch() as watch:
                fetch()
            seconds.append(watch.seconds)
    counted = -1 if host_prefix else (tables.total - tables_before) / repeats
    return Figure(seconds, kv.total / repeats, counted, how)


def auto_renew(stack: BenchStack, certificates: int = 1000, due: int = 10) -> tuple[Figure, int]:
    """1,000 issued-looking certificate rows written directly; `due` of them past renewalDueAt.
    Returns the figure and how many renewals the run started."""
    ctx, tables = _context(stack, "benchautorenew", AUTO_RENEW_JITTER_SECONDS="300")
    now = utcnow()
    every = certificates // due
    rows = [_issued_row(i, now, is_due=i % every == 0 and i // every < due) for i in range(certificates)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(ctx.certificates.add, rows))
    kv, tables_before = VaultRequests(stack.admins), tables.total
    with kv.measure(), Stopwatch() as watch:
        report = run_auto_renew(ctx)
    return Figure([watch.seconds], kv.total, tables.total - tables_before), len(report.started)


def _issued_row(i: int, now, is_due: bool) -> Certificate:
    not_before = now - timedelta(days=320 if is_due else 30 + i % 200)
    not_after = not_before + timedelta(days=365)  # renewalDueAt = notAfter - 60 days: 15 days ago when due
    return Certificate(
        name=f"auto-{i:04d}",
        hostnames=(f"a{i}.bench.test",),
        key_type="RSA2048",
        issuer="local",
        status=CertificateStatus.ISSUED,
        secret_name=secret_name_for(f"auto-{i:04d}"),
        secret_version=os.urandom(16).hex(),
        secret_updated_on=not_before,
        thumbprint=os.urandom(20).hex().upper(),
        sha256=os.urandom(32).hex().upper(),
        serial=os.urandom(16).hex().upper(),
        not_before=not_before,
        not_after=not_after,
        renewal_due_at=not_after - timedelta(days=60),
        created_at=not_before,
    )


def _context(stack: BenchStack, prefix: str, queue: str | None = None, **overrides: str):
    env = app_env(stack.connection, stack.vault_urls[0], stack.cert, CERTSYNC_TABLE_PREFIX=prefix,
                  OPERATIONS_QUEUE=queue or f"{prefix}-ops", **overrides)  # fmt: skip
    return counting_context(Settings.from_env(env))


def rows(issue: Figure | None, view: Figure | None, renew: tuple[Figure, int] | None) -> list[Row]:
    out: list[Row] = []
    if issue:
        out.append(Row(SECTION, f"issue one local-CA certificate (create + drain), median / max of {len(issue.seconds)}",
                       f"{median(issue.seconds):.2f} s / {max(issue.seconds):.2f} s ({issue.note}; "
                       f"{issue.kv_requests:.0f} KV + {issue.table_requests:.0f} Table requests each)"))  # fmt: skip
    if view:
        tables = f" + {view.table_requests:.0f} Table" if view.table_requests >= 0 else ""
        out.append(Row(SECTION, f"certificate overview with 100 links, median / max of {len(view.seconds)}",
                       f"{median(view.seconds) * 1000:.0f} ms / {max(view.seconds) * 1000:.0f} ms ({view.note}; "
                       f"{view.kv_requests:.0f} KV{tables} request(s) each)"))  # fmt: skip
    if renew:
        figure, started = renew
        out.append(Row(SECTION, "auto-renew run, 1,000 certificates, 10 due",
                       f"{figure.seconds[0]:.2f} s, {started} renewals enqueued, {figure.table_requests:.0f} Table requests",
                       "10 enqueued", started == 10))  # fmt: skip
        out.append(Row(SECTION, "  Key Vault requests during the auto-renew run", f"{figure.kv_requests:.0f}", "0", figure.kv_requests == 0))
    return out


DESCRIPTION = """
In the same run and against the same emulators (same added Key Vault latency). Issuance runs in the bench's process:
`create_certificate` then the queued operation via `OperationEngine.run`, as the queue trigger would (a first, untimed
issuance loads the local CA). The overview is `GET /api/certificates/{name}` on the local host for a certificate with
100 links and one binding per link. The auto-renew figure is one `run_auto_renew(ctx)` over 1,000 certificate rows
written directly through the repository (issued, with secret version, thumbprint and dates; 10 past their
`renewalDueAt`); it only claims and enqueues the 10 renewals, and should need no Key Vault request.
"""
