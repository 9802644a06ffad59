"""The scale bench reads each host's share of a run from two /api/metrics scrapes."""
from __future__ import annotations

from bench.instance_metrics import parse, work_between

BEFORE = """# TYPE certsync_dependency_requests_total counter
certsync_dependency_requests_total{service="Table",status_class="2xx"} 3
"""
AFTER = """# TYPE certsync_dependency_requests_total counter
certsync_dependency_requests_total{service="Table",status_class="2xx"} 45
certsync_dependency_requests_total{service="Table",status_class="4xx"} 2
certsync_dependency_requests_total{service="KeyVault",status_class="2xx"} 7
certsync_operations_total{kind="sweep",outcome="Succeeded"} 3
certsync_operations_total{kind="issue",outcome="Succeeded"} 1
certsync_operation_duration_seconds_sum{kind="sweep",outcome="Succeeded"} 12.5
certsync_sweep_duration_seconds_count{unit="vault"} 2
"""


def test_a_run_is_the_difference_of_two_scrapes():
    work = work_between(parse(BEFORE), parse(AFTER))
    assert dict(work.requests) == {"Table": 44, "KeyVault": 7}
    assert (work.sweep_units, work.vault_units, work.repair_units) == (3, 2, 1)
    assert work.busy_seconds == 12.5
