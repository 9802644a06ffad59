"""The emulator as `make run` starts it: a child process with --data-dir keeps resources across restarts."""

from __future__ import annotations

from pathlib import Path

import requests

from devtools.processes import arm_emulator, free_port

from .support import LOCATION, SUBSCRIPTION


def _put_group(port: int, cert: Path) -> requests.Response:
    return requests.put(
        f"https://127.0.0.1:{port}/subscriptions/{SUBSCRIPTION}/resourcegroups/kept",
        params={"api-version": "2025-04-01"},
        json={"location": LOCATION},
        headers={"Authorization": "Bearer t"},
        verify=str(cert),
        timeout=10,
    )


def _get_group(port: int, cert: Path) -> int:
    return requests.get(
        f"https://127.0.0.1:{port}/subscriptions/{SUBSCRIPTION}/resourcegroups/kept",
        params={"api-version": "2025-04-01"},
        headers={"Authorization": "Bearer t"},
        verify=str(cert),
        timeout=10,
    ).status_code


def test_data_dir_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "arm"
    port, tls_port = free_port(), free_port()
    first = arm_emulator(port, tls_port, data, data, None, None, log_path=tmp_path / "first.log")
    first.start()
    try:
        first.wait_ready(30)
        assert _put_group(port, data / "emulator-cert.pem").status_code == 201
    finally:
        first.stop()
    second = arm_emulator(port, tls_port, data, data, None, None, log_path=tmp_path / "second.log")
    second.start()
    try:
        second.wait_ready(30)
        assert _get_group(port, data / "emulator-cert.pem") == 200
    finally:
        second.stop()
    assert oct((data / "arm-emulator-state.json").stat().st_mode & 0o777) == "0o600"
