"""Timer triggers and the admin endpoint, against the host subprocess running sample_app."""
from __future__ import annotations

import pytest
import requests

from .support import HostProcess, SampleApp

pytestmark = pytest.mark.timeout(60)


def test_setting_schedule_fires_every_second(sample_host: HostProcess, sample_app: SampleApp) -> None:
    # tick's schedule is "%TICK_SCHEDULE%", resolved from local.settings.json to "*/1 * * * * *".
    ticks = sample_app.wait_for("tick", 2, timeout=6)
    assert all(entry["past_due"] is False for entry in ticks)


def test_timespan_schedule_from_blueprint_fires(sample_host: HostProcess, sample_app: SampleApp) -> None:
    sample_app.wait_for("heartbeat", 2, timeout=6)  # schedule "00:00:01"


def test_admin_endpoint_runs_a_timer_now(sample_host: HostProcess, sample_app: SampleApp) -> None:
    response = requests.post(sample_host.url + "/admin/functions/yearly", json={"input": ""}, timeout=10)
    assert response.status_code == 202
    runs = sample_app.wait_for("yearly", timeout=5)
    assert runs[0]["past_due"] is False
    assert str(runs[0]["next"]).endswith("-01-01T00:00:00")


def test_admin_endpoint_names_are_case_insensitive(sample_host: HostProcess) -> None:
    response = requests.post(sample_host.url + "/admin/functions/YEARLY", json={"input": None}, timeout=10)
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("no_such_function", b'{"input": "x"}', 404),
        ("yearly", b"", 400),  # no invocation body: the host answers BadRequest
        ("yearly", b"not json", 400),
        ("yearly", b'["a list"]', 400),
    ],
)
def test_admin_endpoint_errors(sample_host: HostProcess, name: str, body: bytes, status: int) -> None:
    response = requests.post(
        f"{sample_host.url}/admin/functions/{name}", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == status


def test_failing_timer_is_logged_and_keeps_its_schedule(sample_host: HostProcess, sample_app: SampleApp) -> None:
    sample_app.wait_for("failing_tick", 2, timeout=6)  # it raised the first time and still ran again
    assert "Executed 'Functions.failing_tick' (Failed" in sample_host.logs()
    assert "ValueError: timer failure" in sample_host.logs()


def test_runs_of_one_timer_never_overlap(sample_host: HostProcess, sample_app: SampleApp) -> None:
    # slow_tick is due every second but runs 1.2 s; an admin run is requested in the middle too.
    sample_app.wait_for("slow_tick", timeout=6)
    admin = requests.post(sample_host.url + "/admin/functions/slow_tick", json={"input": ""}, timeout=10)
    assert admin.status_code == 202
    runs = sample_app.wait_for("slow_tick", 3, timeout=10)
    spans = sorted((float(r["start"]), float(r["end"])) for r in runs)  # type: ignore[arg-type]
    for (_, end), (next_start, _) in zip(spans, spans[1:]):
        assert next_start >= end, f"runs overlap: {spans}"
