"""The README walkthrough's ARM helper: what it prints when things work, and when ARM says no."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from azure.keyvault.secrets import SecretClient

from devtools import appservice_demo
from devtools.arm_emulator import EmulatorHandle

from .support import make_pfx


def _options(arm: EmulatorHandle) -> dict[str, Any]:
    return {"base_url": arm.url, "connection_verify": str(arm.cert_path), "retry_total": 0}


def test_create_imports_binds_and_show_reports_it(
    arm: EmulatorHandle, secrets: SecretClient, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets.set_secret("cert-demo", make_pfx("demo.example.com").value, content_type="application/x-pkcs12")

    created = appservice_demo.main(["create", "demo", "demo.example.com"], _options(arm))
    shown = appservice_demo.main(["show", "demo"], _options(arm))

    out = capsys.readouterr().out
    assert (created, shown) == (0, 0)
    assert "bound demo.example.com" in out
    assert "binding demo-app/demo.example.com" in out


def test_a_secret_that_does_not_exist_is_one_clear_line(
    arm: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    status = appservice_demo.main(["create", "missing", "missing.example.com"], _options(arm))

    err = capsys.readouterr().err
    assert status == 1
    assert "could not import the secret cert-missing" in err
    assert "Traceback" not in err


def test_an_arm_refusal_is_one_line_not_a_traceback(arm: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    status = appservice_demo.main(["show", "never-created"], _options(arm))

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("appservice_demo: ARM refused:") and err.count("\n") == 1


def test_no_emulator_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:  # a port nobody listens on once this socket is closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    options = {"base_url": f"https://127.0.0.1:{port}", "retry_total": 0}

    status = appservice_demo.main(["site", "nothing"], options)

    assert status == 1
    assert "is `make run` running?" in capsys.readouterr().err
