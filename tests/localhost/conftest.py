"""Fixtures for the local host tests: Azurite in memory, the sample app, the host subprocess."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from .support import (
    AZURITE,
    WORK_QUEUE,
    Azurite,
    HostProcess,
    SampleApp,
    free_port,
    host_env,
    wait_for_port,
    write_settings,
)

SAMPLE_APP = Path(__file__).resolve().parent / "sample_app"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    if not AZURITE.exists() or shutil.which("node") is None:
        pytest.fail("Azurite is not installed: `make test` runs `npm ci`")
    workdir = tmp_path_factory.mktemp("azurite")
    ports = [free_port() for _ in range(3)]
    # In-memory only: Azurite 3.35 refuses --location together with --inMemoryPersistence.
    process = subprocess.Popen(
        [str(AZURITE), "--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--disableTelemetry",
         "--blobPort", str(ports[0]), "--queuePort", str(ports[1]), "--tablePort", str(ports[2])],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(ports[1], 20)
        wait_for_port(ports[0], 20)
        yield Azurite(ports[1], ports[0])
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def sample_app(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> SampleApp:
    """A copy of sample_app with its local.settings.json (git ignores that file name, so we write it)."""
    root = tmp_path_factory.mktemp("sample")
    app_dir = root / "app"
    shutil.copytree(SAMPLE_APP, app_dir, ignore=shutil.ignore_patterns("__pycache__"))
    record_dir = root / "records"
    record_dir.mkdir()
    write_settings(
        app_dir,
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "TICK_SCHEDULE": "*/1 * * * * *",
            "WORK_QUEUE": WORK_QUEUE,
            "RECORD_DIR": str(record_dir),
            "GREETING": "from-settings",
            "SHADOWED": "from-settings",
        },
    )
    return SampleApp(app_dir, record_dir)


@pytest.fixture(scope="session")
def sample_host(sample_app: SampleApp) -> Iterator[HostProcess]:
    """One host for the HTTP, timer and queue tests; SHADOWED is also set in its environment."""
    host = HostProcess(["--app-dir", str(sample_app.app_dir)], host_env(SHADOWED="from-environment"), free_port())
    host.start()
    yield host
    host.stop()
