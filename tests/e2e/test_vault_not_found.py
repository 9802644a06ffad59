"""End to end over real HTTP: a link to a vault that is not there is the caller's mistake, said
at once (404 VaultNotFound), with one answer whether the port is closed or something that is not
a Key Vault listens on it, so the endpoint is no port scanner."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from devtools.processes import free_port


@pytest.fixture
def not_a_vault() -> Iterator[int]:
    """A loopback port where something listens that does not speak TLS: it answers in plain HTTP."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def link_to(api, name: str, port: int):
    return api.call("POST", "links", {"name": name, "keyVaultSecretId": f"https://127.0.0.1:{port}/secrets/shop"})


def test_a_vault_that_is_not_there_is_404_the_same_for_closed_and_open_ports(api, unique, not_a_vault):
    closed_port = free_port()
    answers = {port: link_to(api, f"p{port}-{unique}", port) for port in (closed_port, not_a_vault)}
    messages = set()
    for port, response in answers.items():
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "VaultNotFound"
        messages.add(response.json()["error"]["message"].replace(str(port), "PORT"))
        assert api.call("GET", f"links/p{port}-{unique}").status_code == 404
    assert len(messages) == 1, messages
