"""A load test's burst: a few hundred clients connect at once to the ARM API and every one is answered."""

from __future__ import annotations

import ssl

import pytest

from devtools.arm_emulator import EmulatorHandle
from tests.connection_burst import burst

pytestmark = pytest.mark.timeout(120)

CLIENTS = 300


def test_every_one_of_a_burst_of_connections_is_answered(arm: EmulatorHandle) -> None:
    context = ssl.create_default_context(cafile=str(arm.cert_path))
    request = b"GET /subscriptions/x/resourcegroups HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

    outcomes = burst(
        arm.port, request, CLIENTS, lambda s: context.wrap_socket(s, server_hostname="127.0.0.1"), timeout=30
    )

    assert outcomes == {"401": CLIENTS}, dict(outcomes)  # no token: refused, for every client
