"""Fixtures: one in-memory emulator per session, wiped before every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from azure.keyvault.secrets import SecretClient

from devtools.kv_emulator import EmulatorHandle, start_emulator

from .support import RawVault, client_for


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(host="127.0.0.1", port=0) as handle:
        yield handle


@pytest.fixture
def raw(emulator: EmulatorHandle) -> Iterator[RawVault]:
    with requests.Session() as session:
        yield RawVault(emulator.url, str(emulator.cert_path), session)


@pytest.fixture(autouse=True)
def clean_emulator(emulator: EmulatorHandle, raw: RawVault) -> None:
    raw.manage("DELETE", "faults").raise_for_status()
    raw.manage("POST", "reset", params={"data": "true"}).raise_for_status()


@pytest.fixture
def make_client(emulator: EmulatorHandle) -> Iterator[Callable[..., SecretClient]]:
    clients: list[SecretClient] = []

    def make(**options: Any) -> SecretClient:
        clients.append(client_for(emulator, **options))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., SecretClient]) -> SecretClient:
    return make_client()
