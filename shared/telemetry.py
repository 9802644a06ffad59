"""Process metrics through the OpenTelemetry SDK: operations, dependency requests, the sweep.

These counters and histograms are per instance (Functions run on many): /api/metrics shows the
instance that answered, and in Azure they go through OpenTelemetry to Azure Monitor, which adds
the instances up. State-derived gauges (expiry, ready, out of sync) are not here: they are read
from Table Storage at scrape time (shared/metrics_state.py), so every instance answers the same.

One MeterProvider per process. `reader` is an in-memory reader the Prometheus rendering collects
from; `install` adds the readers of an exporter (Azure Monitor) when it is configured.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from azure.monitor.opentelemetry import configure_azure_monitor
from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


VIEWS = [View(instrument_name="*_seconds", aggregation=ExplicitBucketHistogramAggregation(DURATION_BUCKETS))]


class Instruments:
    """The process metrics, on one meter provider."""

    def __init__(self, provider: metrics.MeterProvider) -> None:
        meter = provider.get_meter("certsync")
        self.operations = meter.create_counter(
            "certsync_operations_total", description="Operation deliveries finished, by kind and outcome"
        )
        self.operation_duration = meter.create_histogram(
            "certsync_operation_duration_seconds", unit="s", description="Time one operation delivery took"
        )
        self.dependency_requests = meter.create_counter(
            "certsync_dependency_requests_total",
            description="HTTP requests to a dependency (KeyVault, Table, Queue, ARM, ACME) by status class",
        )
        self.dependency_throttled = meter.create_counter(
            "certsync_dependency_throttled_total", description="Dependency answers 429 (throttled)"
        )
        self.sweep_duration = meter.create_histogram(
            "certsync_sweep_duration_seconds", unit="s", description="Time one sweep run or unit took"
        )
        self.sweep_changed_secrets = meter.create_counter(
            "certsync_sweep_changed_secrets", description="Secrets the sweep found changed"
        )
        self.revocations = meter.create_counter(
            "certsync_revocations_total", description="Certificates a CA revoked at certsync's request"
        )

    def record_operation(self, kind: str, outcome: str, seconds: float) -> None:
        labels = {"kind": kind, "outcome": outcome}
        self.operations.add(1, labels)
        self.operation_duration.record(seconds, labels)

    def record_dependency(self, service: str, status: int | None) -> None:
        status_class = f"{status // 100}xx" if status else "error"
        self.dependency_requests.add(1, {"service": service, "status_class": status_class})
        if status == 429:
            self.dependency_throttled.add(1, {"service": service})

    def record_revocation(self, issuer: str, reason: str) -> None:
        self.revocations.add(1, {"issuer": issuer, "reason": reason})

    def record_sweep(self, seconds: float, changed_secrets: int, unit: str) -> None:
        self.sweep_duration.record(seconds, {"unit": unit})
        self.sweep_changed_secrets.add(changed_secrets, {"unit": unit})


class Telemetry:
    """The process's instruments and the in-memory reader /api/metrics renders."""

    def __init__(
        self,
        reader: InMemoryMetricReader,
        provider: metrics.MeterProvider,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.reader = reader
        self.instruments = Instruments(provider)
        self.tracer = (tracer_provider or trace.NoOpTracerProvider()).get_tracer("certsync")


def local_telemetry() -> Telemetry:
    """No exporter: a MeterProvider of our own that only /api/metrics reads."""
    reader = InMemoryMetricReader()
    return Telemetry(reader, MeterProvider(metric_readers=[reader], views=VIEWS))


def azure_monitor_telemetry(
    connection_string: str,
    configure: Callable[..., Any] = configure_azure_monitor,
    provider: Callable[[], metrics.MeterProvider] = metrics.get_meter_provider,
    tracer_provider: Callable[[], trace.TracerProvider] = trace.get_tracer_provider,
) -> Telemetry:
    """APPLICATIONINSIGHTS_CONNECTION_STRING set: the azure-monitor-opentelemetry distro, as
    Functions apps use it, sets the global providers (metrics, traces, logs) with its exporters;
    our in-memory reader rides on the same MeterProvider so /api/metrics still works."""
    reader = InMemoryMetricReader()
    configure(connection_string=connection_string, metric_readers=[reader], views=VIEWS)
    return Telemetry(reader, provider(), tracer_provider())


def disabled_telemetry() -> Telemetry:
    """Instruments that record nothing (OpenTelemetry's no-op provider): the bench's baseline."""
    return Telemetry(InMemoryMetricReader(), metrics.NoOpMeterProvider())


def telemetry_for(connection_string: str | None) -> Telemetry:
    return azure_monitor_telemetry(connection_string) if connection_string else local_telemetry()


_current = local_telemetry()


def current() -> Telemetry:
    return _current


def install(telemetry: Telemetry) -> Telemetry:
    """Replace the process's telemetry (at start when an exporter is configured, and in tests)."""
    global _current
    _current = telemetry
    return telemetry


def instruments() -> Instruments:
    return _current.instruments


# --- traces: one operation from its HTTP request through the queue to Key Vault and back ---

OPERATION_ID = "certsync.operation.id"
OPERATION_KIND = "certsync.operation.kind"
TRACE_KEYS = ("traceparent", "tracestate")


def trace_context() -> dict[str, str]:
    """The current span as W3C trace context (traceparent), for a queue message; {} when no span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in TRACE_KEYS}


@contextmanager
def operation_span(
    name: str, op_id: str, kind: str = "", carrier: Mapping[str, str] | None = None, producer: bool = False
) -> Iterator[trace.Span]:
    """A span carrying the operation id; `carrier` continues the trace a queue message brought."""
    parent = propagate.extract(dict(carrier)) if carrier else None
    attributes = {OPERATION_ID: op_id, **({OPERATION_KIND: kind} if kind else {})}
    span_kind = trace.SpanKind.PRODUCER if producer else trace.SpanKind.CONSUMER
    with _current.tracer.start_as_current_span(name, context=parent, kind=span_kind, attributes=attributes) as span:
        yield span
