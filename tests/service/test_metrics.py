"""Metric values after real flows on the fakes (issue, renew, a failing renewal, a link out of
sync, a sweep), read as GET /api/metrics renders them and from the in-memory OpenTelemetry reader."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry
from shared.errors import IssuerError
from shared.issuers.base import IssuedCertificate, IssueRequest
from shared import pki
from shared.lifecycle import NewCertificate, create_certificate, set_auto_renew, start_renewal
from shared.metrics_state import exposition
from shared.model import OperationKind
from shared.revoke import start_revocation
from shared.sweep import run_sweep
from tests.fakes.context import Fakes, drain, fake_context
from tests.service.conftest import issued, linked_and_bound, upload_version

LINE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')
Key = tuple[str, frozenset[tuple[str, str]]]


def parse(text: str) -> dict[Key, float]:
    """Prometheus text to {(name, labels): value}; every non-comment line must parse."""
    values: dict[Key, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = LINE.match(line)
        assert match, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        values[(match.group(1), labels)] = float(match.group(3).replace("+Inf", "inf"))
    return values


def value(values: dict[Key, float], name: str, **labels: str) -> float:
    return values[(name, frozenset(labels.items()))]


@pytest.fixture
def fakes() -> Fakes:
    """Key Vault stamps versions in real time here, so the sync lag is a real duration."""
    return fake_context()


@pytest.fixture(autouse=True)
def fresh_telemetry() -> Iterator[telemetry.Telemetry]:
    previous = telemetry.current()
    yield telemetry.install(telemetry.local_telemetry())
    telemetry.install(previous)


def _failing_issuer(fakes: Fakes) -> None:
    issuer = fakes.ctx.issuer("local")

    def refuse(request: IssueRequest) -> IssuedCertificate:
        raise IssuerError("the CA refused the order")

    issuer.issue = refuse  # type: ignore[method-assign]


def test_issue_renew_and_a_failing_renewal(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    values = parse(exposition(fakes.ctx))
    assert cert.not_after and cert.renewal_due_at
    assert value(values, "certsync_certificate_expiration_timestamp_seconds", certificate="shop") == cert.not_after.timestamp()
    due = value(values, "certsync_certificate_renewal_due_timestamp_seconds", certificate="shop")
    assert due == cert.renewal_due_at.timestamp()
    assert value(values, "certsync_certificate_ready_status", certificate="shop", condition="True") == 1
    assert value(values, "certsync_certificate_ready_status", certificate="shop", condition="False") == 0
    assert value(values, "certsync_certificate_renewal_failures", certificate="shop") == 0
    assert value(values, "certsync_operations_total", kind="issue", outcome="Succeeded") == 1

    start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    drain(fakes)
    _failing_issuer(fakes)
    start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    drain(fakes)

    values = parse(exposition(fakes.ctx))
    assert value(values, "certsync_operations_total", kind="renew", outcome="Succeeded") == 1
    assert value(values, "certsync_operations_total", kind="renew", outcome="Failed") == 1
    assert value(values, "certsync_operation_duration_seconds_count", kind="renew", outcome="Failed") == 1
    assert value(values, "certsync_certificate_ready_status", certificate="shop", condition="True") == 0
    assert value(values, "certsync_certificate_ready_status", certificate="shop", condition="False") == 1
    assert value(values, "certsync_certificate_renewal_failures", certificate="shop") == 1


def test_revocations_are_counted_by_issuer_and_reason_and_ready_says_why(fakes: Fakes) -> None:
    issued(fakes, "shop")
    set_auto_renew(fakes.ctx, "shop", False)
    for _ in range(2):  # the second is answered "already revoked": no second revocation to count
        start_revocation(fakes.ctx, "shop", "keyCompromise")
        drain(fakes)
    values = parse(exposition(fakes.ctx))
    assert value(values, "certsync_revocations_total", issuer="local", reason="keyCompromise") == 1
    assert value(values, "certsync_operations_total", kind="revoke", outcome="Succeeded") == 2
    assert value(values, "certsync_certificate_ready_status", certificate="shop", condition="False") == 1


def test_out_of_sync_link_then_a_sweep_brings_it_back(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link", apps=("app1", "app2"))
    values = parse(exposition(fakes.ctx))
    assert value(values, "certsync_links_out_of_sync", certificate="shop") == 0

    upload_version(fakes, cert.secret_name, hostnames=("other.example.com",))  # not usable for the bindings
    run_sweep(fakes.ctx)
    values = parse(exposition(fakes.ctx))
    assert value(values, "certsync_links_out_of_sync", certificate="shop") == 1
    assert ("certsync_link_sync_lag_seconds", frozenset({("certificate", "shop"), ("link", "shop-link")})) not in values
    assert value(values, "certsync_sweep_changed_secrets", unit="all") == 1
    assert value(values, "certsync_sweep_duration_seconds_count", unit="all") == 1

    version, _ = upload_version(fakes, cert.secret_name)
    run_sweep(fakes.ctx)
    values = parse(exposition(fakes.ctx))
    assert value(values, "certsync_links_out_of_sync", certificate="shop") == 0
    assert value(values, "certsync_sweep_changed_secrets", unit="all") == 2
    assert value(values, "certsync_sweep_duration_seconds_count", unit="all") == 2
    lag = value(values, "certsync_link_sync_lag_seconds", certificate="shop", link="shop-link")
    link = fakes.ctx.links.get("shop-link")
    assert link.version == version.version and link.last_synced_at and version.updated_on
    link_moved = (link.last_synced_at - version.updated_on).total_seconds()
    assert 0 < link_moved <= lag < 5  # the bindings moved after the link, seconds after Key Vault


def test_no_secret_in_any_label(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link")
    text = exposition(fakes.ctx)
    pfx = fakes.vault.get_secret(cert.secret_name).value
    assert pfx and pfx[:40] not in text and cert.thumbprint not in text


def test_the_in_memory_exporter_sees_the_same_counts(fakes: Fakes, fresh_telemetry: telemetry.Telemetry) -> None:
    issued(fakes, "shop")
    data = fresh_telemetry.reader.get_metrics_data()
    assert data is not None
    points = {
        (m.name, tuple(sorted(p.attributes.items()))): p
        for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics for p in m.data.data_points
    }  # fmt: skip
    ops = points[("certsync_operations_total", (("kind", "issue"), ("outcome", "Succeeded")))]
    assert ops.value == 1  # type: ignore[union-attr]


def test_azure_monitor_path_is_taken_with_the_connection_string() -> None:
    """The distro is called with our reader on its provider; here a fake stands in for it
    (no network): it builds the provider the distro would, with an exporter's reader of its own."""
    exporter_reader = InMemoryMetricReader()
    calls: list[dict[str, Any]] = []
    provider: list[MeterProvider] = []

    def configure(**kwargs: Any) -> None:
        calls.append(kwargs)
        provider.append(MeterProvider(metric_readers=[*kwargs["metric_readers"], exporter_reader], views=kwargs["views"]))

    made = telemetry.azure_monitor_telemetry("InstrumentationKey=00000000", configure, lambda: provider[0])
    made.instruments.record_dependency("KeyVault", 429)
    assert calls[0]["connection_string"] == "InstrumentationKey=00000000"
    for reader in (made.reader, exporter_reader):
        data = reader.get_metrics_data()
        assert data is not None
        names = {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
        assert {"certsync_dependency_requests_total", "certsync_dependency_throttled_total"} <= names


def test_without_the_connection_string_no_exporter_is_configured() -> None:
    made = telemetry.telemetry_for(None)
    made.instruments.record_operation("issue", "Succeeded", 0.1)
    assert made.reader.get_metrics_data() is not None


def test_a_trace_follows_an_operation_from_its_request_through_the_queue(fakes: Fakes) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    telemetry.install(telemetry.Telemetry(reader, MeterProvider(metric_readers=[reader]), tracer_provider))

    # stands in for the span the Functions host opens for the HTTP request
    with tracer_provider.get_tracer("host").start_as_current_span("POST /api/certificates") as request:
        op = create_certificate(fakes.ctx, NewCertificate(name="shop", hostnames=("www.example.com",), key_type=pki.KeyType.EC256))
    message = fakes.queue.messages[0].body
    drain(fakes)

    spans = {span.name: span for span in exporter.get_finished_spans()}
    queued, ran = spans["queue issue"], spans["run operation"]
    assert queued.parent is not None and queued.parent.span_id == request.get_span_context().span_id
    assert ran.parent is not None and ran.parent.span_id == queued.context.span_id
    assert ran.context.trace_id == request.get_span_context().trace_id
    assert f"{ran.context.trace_id:032x}" in message  # the traceparent travelled in the queue message
    assert queued.attributes and ran.attributes
    assert queued.attributes[telemetry.OPERATION_ID] == ran.attributes[telemetry.OPERATION_ID] == op.id
    assert ran.attributes[telemetry.OPERATION_KIND] == "issue"
    assert ran.attributes["certsync.operation.outcome"] == "Succeeded"


def test_without_a_span_the_message_carries_no_trace_context(fakes: Fakes) -> None:
    create_certificate(fakes.ctx, NewCertificate(name="shop", hostnames=("www.example.com",), key_type=pki.KeyType.EC256))
    assert "traceparent" not in fakes.queue.messages[0].body
