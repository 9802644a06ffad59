"""A load test's burst: a few hundred clients connect at once and every one is answered (the
listen backlog must hold them; with a backlog of 5 some were reset or timed out)."""
from __future__ import annotations

import ssl

import pytest

from devtools.kv_emulator import EmulatorHandle
from tests.connection_burst import burst

pytestmark = pytest.mark.timeout(120)

CLIENTS = 300


def test_every_one_of_a_burst_of_connections_is_answered(emulator: EmulatorHandle) -> None:
    context = ssl.create_default_context(cafile=str(emulator.cert_path))
    request = b"GET /secrets?api-version=7.5 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    outcomes = burst(emulator.port, request, CLIENTS, lambda s: context.wrap_socket(s, server_hostname="127.0.0.1"),
                     timeout=30)
    assert outcomes == {"401": CLIENTS}, dict(outcomes)  # no token: the challenge, for every client
