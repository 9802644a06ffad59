"""Timers across instances: one listener lock (a blob lease) per timer, schedule status in a blob.

Two hosts of one app share an Azurite account: only the lock holder fires, each occurrence
once; when the holder is killed the other takes the lease over and runs the missed
occurrence once, past due. The status rule itself is table-tested without storage.
"""
from __future__ import annotations

import itertools
import shutil
import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from devtools.local_host.ncrontab import CronSchedule
from devtools.local_host.schedule_monitor import ScheduleStatus, check_past_due, host_id

from .support import WORK_QUEUE, Azurite, HostProcess, SampleApp, free_port, host_env, wait_until, write_settings

SAMPLE_APP = Path(__file__).resolve().parent / "sample_app"
T0 = datetime(2030, 1, 1, 12, 0, 0)
H = timedelta(hours=1)
HOURLY = CronSchedule.parse("0 0 * * * *")


@pytest.mark.parametrize(
    ("status", "now", "past_due", "next_"),
    [
        (None, T0, False, None),  # never ran: nothing is due
        (ScheduleStatus(T0, T0 + H, T0), T0 + timedelta(minutes=5), False, T0 + H),
        (ScheduleStatus(T0, T0 + H, T0), T0 + 3 * H, True, T0 + H),
        # Next no longer follows Last (the schedule changed): recomputed from LastUpdated
        (ScheduleStatus(T0, T0 + timedelta(minutes=10), T0), T0 + timedelta(minutes=20), False, T0 + H),
        (ScheduleStatus(None, T0 + H, T0), T0 + 2 * H, True, T0 + H),
    ],
)
def test_past_due_rule(status: ScheduleStatus | None, now: datetime, past_due: bool, next_: datetime | None) -> None:
    due, after = check_past_due(status, now, HOURLY)
    assert due is past_due
    assert (after.next if after else None) == next_


def test_status_round_trips_through_json() -> None:
    status = ScheduleStatus(None, T0, T0 - timedelta(seconds=1))
    assert ScheduleStatus.from_json(status.to_json()) == status
    assert '"Last": "0001-01-01T00:00:00"' in status.to_json()


@pytest.fixture
def twin_app(tmp_path: Path, azurite: Azurite) -> SampleApp:
    app_dir = tmp_path / "app"
    shutil.copytree(SAMPLE_APP, app_dir, ignore=shutil.ignore_patterns("__pycache__"))
    records = tmp_path / "records"
    records.mkdir()
    write_settings(app_dir, {"AzureWebJobsStorage": azurite.connection_string, "TICK_SCHEDULE": "*/1 * * * * *",
                             "WORK_QUEUE": WORK_QUEUE, "RECORD_DIR": str(records)})  # fmt: skip
    return SampleApp(app_dir, records)


@pytest.fixture
def twin_hosts(twin_app: SampleApp) -> Iterator[list[HostProcess]]:
    env = host_env(
        AzureFunctionsJobHost__singleton__listenerLockPeriod="00:00:15",
        AzureFunctionsJobHost__singleton__listenerLockRecoveryPollingInterval="00:00:00.5",
    )
    args = ["--app-dir", str(twin_app.app_dir), "--functions", "tick"]
    hosts = [HostProcess(args, env, free_port()) for _ in range(2)]
    try:
        for host in hosts:
            host.start()
        yield hosts
    finally:
        for host in hosts:
            if host.process is not None:
                host.stop()


def _tick_lock_leased(azurite: Azurite, app: SampleApp) -> bool:
    with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        container = service.get_container_client("azure-webjobs-hosts")
        lock = container.get_blob_client(f"locks/{host_id(app.app_dir)}/Host.Functions.tick.Listener")
        return bool(lock.get_blob_properties().lease.state == "leased")


@pytest.mark.timeout(90)
def test_one_instance_fires_and_another_takes_over_when_it_dies(
    twin_hosts: list[HostProcess], twin_app: SampleApp, azurite: Azurite
) -> None:
    before = twin_app.wait_for("tick", 4, timeout=15)
    holders = {r["pid"] for r in before}
    assert len(holders) == 1, f"two instances fired one timer: {before}"
    assert _tick_lock_leased(azurite, twin_app)
    holder = next(h for h in twin_hosts if h.process is not None and h.process.pid in holders)
    other = next(h for h in twin_hosts if h is not holder)
    assert holder.process is not None and other.process is not None
    holder.stop(signal.SIGKILL)

    def taken_over() -> list[dict[str, object]]:
        runs = twin_app.records("tick")
        return runs if sum(1 for r in runs if r["pid"] == other.process.pid) >= 3 else []  # type: ignore[union-attr]

    runs: list[dict[str, object]] = wait_until(taken_over, 40, "the other instance never took the timer over")  # type: ignore[assignment]
    old = [r for r in runs if r["pid"] != other.process.pid]
    new = [r for r in runs if r["pid"] == other.process.pid]
    assert all(r["past_due"] is False for r in old)
    assert new[0]["past_due"] is True, "the occurrence missed during the takeover did not run past due"
    assert all(r["past_due"] is False for r in new[1:])
    old_ticks = [datetime.fromisoformat(str(r["next"])) for r in old]
    new_ticks = [datetime.fromisoformat(str(r["next"])) for r in new]
    assert old_ticks == sorted(set(old_ticks)), f"an occurrence ran twice: {old_ticks}"
    assert new_ticks == sorted(set(new_ticks)), f"an occurrence ran twice: {new_ticks}"
    # the past-due run is the first occurrence the dead holder did not finish (or the one it was running)
    assert new_ticks[0] in (old_ticks[-1] + timedelta(seconds=1), old_ticks[-1])
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(new_ticks[1:]))
