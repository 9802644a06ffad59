"""A load test's burst: a few hundred clients connect at once and every one is answered (the
listen backlog must hold them; with a backlog of 5 some were reset or timed out)."""
from __future__ import annotations

import pytest

from tests.connection_burst import burst

from .support import HostProcess

pytestmark = pytest.mark.timeout(120)

CLIENTS = 300


def test_every_one_of_a_burst_of_connections_is_answered(sample_host: HostProcess) -> None:
    request = b"GET /api/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    outcomes = burst(sample_host.port, request, CLIENTS, timeout=30)
    assert outcomes == {"200": CLIENTS}, dict(outcomes)
