"""The Prometheus text exposition format (0.0.4), rendered from plain samples and from what an
OpenTelemetry in-memory reader collected. Pure: no I/O, no global state."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from opentelemetry.sdk.metrics.export import Histogram, MetricsData, Sum

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float


@dataclass
class Family:
    name: str
    kind: str  # gauge, counter, histogram
    help: str
    samples: list[Sample] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        self.samples.append(Sample(self.name + suffix, tuple(labels.items()), value))


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        lines.extend(_sample_line(s) for s in family.samples)
    return "\n".join(lines) + "\n"


def _sample_line(sample: Sample) -> str:
    labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels)
    return f"{sample.name}{{{labels}}} {_number(sample.value)}" if labels else f"{sample.name} {_number(sample.value)}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def families_from_otel(data: MetricsData | None) -> list[Family]:
    """Counters (Sum) and histograms, cumulative, as Prometheus families."""
    families: list[Family] = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if isinstance(metric.data, Histogram):
                    families.append(_histogram(metric.name, metric.description or "", metric.data))
                elif isinstance(metric.data, Sum):
                    kind = "counter" if metric.data.is_monotonic else "gauge"
                    family = Family(metric.name, kind, metric.description or "")
                    for point in metric.data.data_points:
                        family.add(point.value, **_labels(point.attributes))
                    families.append(family)
    return families


def _histogram(name: str, help_text: str, data: Histogram) -> Family:
    family = Family(name, "histogram", help_text)
    for point in data.data_points:
        labels = _labels(point.attributes)
        cumulative = 0
        for bound, count in zip([*point.explicit_bounds, math.inf], point.bucket_counts, strict=True):
            cumulative += count
            family.add(cumulative, "_bucket", **labels, le=_number(bound))
        family.add(point.sum, "_sum", **labels)
        family.add(point.count, "_count", **labels)
    return family


def _labels(attributes: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(attributes or {}).items()}  # type: ignore[call-overload]
