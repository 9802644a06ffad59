"""--data-dir survives restarts (secrets, deletions, certificate); the CLI starts and stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ResourceExistsError

from devtools.kv_emulator import start_emulator
from devtools.kv_emulator.storage import STATE_FILE_NAME, StateFileError

from .support import client_for

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_state_and_certificate_survive_a_restart(tmp_path: Path) -> None:
    with start_emulator(data_dir=tmp_path) as first, client_for(first) as client:
        v1 = client.set_secret("durable", "one", tags={"t": "1"})
        v2 = client.set_secret("durable", "two", content_type="text/plain")
        client.update_secret_properties("durable", v1.properties.version, enabled=False)
        client.set_secret("binned", "gone")
        deleted = client.begin_delete_secret("binned").result()
        cert_before = first.cert_path.read_bytes()

    state_file = tmp_path / STATE_FILE_NAME
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    assert first.cert_path == tmp_path / "emulator-cert.pem"

    with start_emulator(data_dir=tmp_path) as second, client_for(second) as client:
        assert second.cert_path.read_bytes() == cert_before
        assert client.get_secret("durable").value == "two"
        versions = list(client.list_properties_of_secret_versions("durable"))
        assert [(p.version, p.enabled) for p in versions] == [
            (v1.properties.version, False),
            (v2.properties.version, True),
        ]
        assert versions[0].tags == {"t": "1"}
        again = client.get_deleted_secret("binned")
        assert again.deleted_date == deleted.deleted_date
        assert again.scheduled_purge_date == deleted.scheduled_purge_date
        with pytest.raises(ResourceExistsError):
            client.set_secret("binned", "reuse")


def test_tls_dir_can_differ_from_data_dir(tmp_path: Path) -> None:
    with start_emulator(data_dir=tmp_path / "data", tls_dir=tmp_path / "tls") as kv:
        assert kv.cert_path == tmp_path / "tls" / "emulator-cert.pem"
        assert not (tmp_path / "data" / "emulator-cert.pem").exists()


def test_in_memory_mode_writes_no_state_and_cleans_its_temp_certificate() -> None:
    with start_emulator() as kv:
        cert_dir = kv.cert_path.parent
        assert sorted(p.name for p in cert_dir.iterdir()) == ["emulator-cert.pem", "emulator-key.pem"]
    assert not cert_dir.exists()


def test_unreadable_state_file_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE_NAME).write_text("{not json")

    with pytest.raises(StateFileError):
        start_emulator(data_dir=tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_url_and_exits_cleanly_on_signal(tmp_path: Path, signum: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.kv_emulator", "--port", "0", "--data-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"(https://127\.0\.0\.1:\d+) \(certificate: (.+)\)$", line.strip())
        assert found, line
        url, cert = found.groups()
        assert Path(cert) == tmp_path / "emulator-cert.pem"
        assert requests.get(f"{url}/_emulator/health", verify=cert, timeout=5).status_code == 200

        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
