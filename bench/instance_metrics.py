"""What each function host did, from the app's own per-instance metrics (GET /api/metrics):
dependency requests by service (the app's Table, Queue and Key Vault clients report every
request, shared/dependencies.py), operations run by kind, and sweep units by kind.

Read before and after a run; the difference is the run's. The first read's own state query
(one certificates page, shared/metrics_state.py) falls inside the difference: one Table request
per instance.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import requests

SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(host_url: str) -> Samples:
    response = requests.get(f"{host_url}/api/metrics", timeout=120)
    response.raise_for_status()
    return parse(response.text)


def parse(text: str) -> Samples:
    samples: Samples = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and not line.startswith("#"):
            labels = frozenset(LABEL.findall(match["labels"] or ""))
            samples[(match["name"], labels)] = float(match["value"])
    return samples


@dataclass
class InstanceWork:
    """One instance's share of a run."""

    requests: Counter[str] = field(default_factory=Counter)  # by service: Table, Queue, KeyVault
    sweep_units: int = 0  # sweep operations run here (vault units and the binding repair)
    vault_units: int = 0
    busy_seconds: float = 0.0  # summed time of the sweep operations run here

    @property
    def repair_units(self) -> int:
        return self.sweep_units - self.vault_units


def work_between(before: Samples, after: Samples) -> InstanceWork:
    def delta(name: str, **wanted: str) -> dict[frozenset[tuple[str, str]], float]:
        return {
            labels: value - before.get((metric, labels), 0.0)
            for (metric, labels), value in after.items()
            if metric == name and set(wanted.items()) <= labels
        }

    work = InstanceWork()
    for labels, value in delta("certsync_dependency_requests_total").items():
        work.requests[dict(labels)["service"]] += round(value)
    work.sweep_units = round(sum(delta("certsync_operations_total", kind="sweep").values()))
    work.vault_units = round(sum(delta("certsync_sweep_duration_seconds_count", unit="vault").values()))
    work.busy_seconds = sum(delta("certsync_operation_duration_seconds_sum", kind="sweep").values())
    return work
