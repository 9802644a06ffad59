"""End to end over real HTTP: a link to a certificate's own secret, with the local vault's
address spelled another way, is the same link as one made by certificate name: its certificate's
overview shows it, sync after renewal moves it, and the certificate cannot be deleted under it."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import Api


def wait_for(api: Api, op_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (op := api.call("GET", f"operations/{op_id}").json())["status"] not in ("Succeeded", "Failed"):
        assert time.monotonic() < deadline, f"operation {op_id} did not finish: {op}"
        time.sleep(0.1)
    return op


def spellings(vault_url: str) -> list[tuple[str, str]]:
    port = urlsplit(vault_url).port
    assert urlsplit(vault_url).hostname == "127.0.0.1", "the test stack's vault is at 127.0.0.1"
    return [
        ("leading-zero", f"https://127.0.0.01:{port}"),
        ("short", f"https://127.1:{port}"),
        ("hex", f"https://0x7f.0.0.1:{port}"),
        ("ipv4-mapped", f"https://[::ffff:127.0.0.1]:{port}"),
        ("trailing-dot", f"https://127.0.0.1.:{port}"),
        ("upper-case-scheme", f"HTTPS://127.0.0.1:{port}"),
    ]


@pytest.mark.parametrize("spelling", range(6), ids=[s for s, _ in spellings("https://127.0.0.1:1")])
def test_a_link_by_another_spelling_is_the_same_link(api: Api, stack, unique, spelling: int):
    _, vault = spellings(stack.vault_url)[spelling]
    name = f"sp{spelling}-{unique}"
    op = api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]}))
    assert op["status"] == "Succeeded", op
    cert = api.call("GET", f"certificates/{name}").json()

    created = api.call("POST", "links", {"name": f"{name}-l", "keyVaultSecretId": f"{vault}/secrets/cert-{name}"})
    assert created.status_code == 201, created.text
    assert created.json()["keyVaultSecretId"] == cert["keyVaultSecretId"]

    [state] = api.call("GET", f"certificates/{name}").json()["linkedCertificates"]
    assert state["name"] == f"{name}-l" and state["inSync"] is True
    delete = api.call("DELETE", f"certificates/{name}")
    assert delete.status_code == 409, delete.text

    renewed = api.wait_operation(api.call("POST", f"certificates/{name}/renew"))
    assert renewed["status"] == "Succeeded", renewed
    sync_id = (renewed["result"] or {}).get("syncOperation")
    assert sync_id, f"no sync was started for the link after renewal: {renewed['result']}"
    synced = wait_for(api, sync_id)
    assert synced["status"] == "Succeeded", synced
    new_thumbprint = api.call("GET", f"certificates/{name}").json()["thumbprint"]
    assert new_thumbprint != cert["thumbprint"]
    assert api.call("GET", f"links/{name}-l").json()["thumbprint"] == new_thumbprint
