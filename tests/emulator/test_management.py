"""The /_emulator/ surface: counters, reset and fault injection, observed through the SDK."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets._shared import http_challenge_cache

from .support import RawVault


def _nonzero(counters: dict[str, int]) -> dict[str, int]:
    return {name: count for name, count in counters.items() if count}


def test_health_needs_no_token(raw: RawVault) -> None:
    response = raw.manage("GET", "health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_counters_count_each_operation_and_the_challenge(client: SecretClient, raw: RawVault) -> None:
    http_challenge_cache.clear()  # the SDK caches challenges per host across clients; force the handshake

    client.set_secret("counted", "x")
    client.get_secret("counted")
    list(client.list_properties_of_secrets())
    list(client.list_properties_of_secret_versions("counted"))
    client.update_secret_properties("counted", content_type="text/plain")
    client.begin_delete_secret("counted").wait()  # + one getDeletedSecret poll
    client.get_deleted_secret("counted")
    list(client.list_deleted_secrets())
    client.begin_recover_deleted_secret("counted").wait()  # + one getSecret poll
    client.begin_delete_secret("counted").wait()
    client.purge_deleted_secret("counted")

    assert _nonzero(raw.counters()) == {
        "challenge": 1,
        "setSecret": 1,
        "getSecret": 2,
        "listSecrets": 1,
        "listSecretVersions": 1,
        "updateSecret": 1,
        "deleteSecret": 2,
        "getDeletedSecret": 3,
        "listDeletedSecrets": 1,
        "recoverDeletedSecret": 1,
        "purgeDeletedSecret": 1,
        "total": 15,
    }


def test_reset_clears_counters_and_optionally_data(client: SecretClient, raw: RawVault) -> None:
    client.set_secret("kept", "x")

    assert raw.manage("POST", "reset").status_code == 200
    assert _nonzero(raw.counters()) == {}
    assert client.get_secret("kept").value == "x"

    assert raw.manage("POST", "reset", params={"data": "true"}).status_code == 200
    assert [p.name for p in client.list_properties_of_secrets()] == []


def test_throttling_fault_returns_429_with_retry_after(make_client: Callable[..., SecretClient], raw: RawVault) -> None:
    client = make_client(retry_total=0)
    client.set_secret("hot", "x")
    assert raw.manage("PUT", "faults", json={"status": 429, "rate": 1.0, "retryAfter": 7}).status_code == 200

    with pytest.raises(HttpResponseError) as caught:
        client.get_secret("hot")

    assert caught.value.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.error.code == "Throttled"
    assert raw.counters()["fault"] == 1


def test_faults_can_target_operations(make_client: Callable[..., SecretClient], raw: RawVault) -> None:
    client = make_client(retry_total=0)
    raw.manage("PUT", "faults", json={"status": 503, "operations": ["getSecret"]}).raise_for_status()

    client.set_secret("partly-down", "x")
    with pytest.raises(HttpResponseError) as caught:
        client.get_secret("partly-down")

    assert caught.value.status_code == 503
    assert caught.value.error.code == "ServiceUnavailable"
    assert caught.value.response.headers["Retry-After"] == "1"


def test_sdk_retry_recovers_from_a_counted_fault(make_client: Callable[..., SecretClient], raw: RawVault) -> None:
    client = make_client(retry_backoff_factor=0.01)
    client.set_secret("flaky", "x")
    raw.manage("PUT", "faults", json={"status": 429, "retryAfter": 0, "count": 2}).raise_for_status()

    assert client.get_secret("flaky").value == "x"

    counters = raw.counters()
    assert counters["getSecret"] == 3
    assert counters["fault"] == 2
    assert raw.manage("GET", "faults").json() == {"plan": None}


def test_latency_applies_only_to_chosen_operations(client: SecretClient, raw: RawVault) -> None:
    client.set_secret("slow", "x")
    raw.manage("PUT", "faults", json={"latencyMs": 500, "operations": ["getSecret"]}).raise_for_status()

    started = time.monotonic()
    client.get_secret("slow")
    slow = time.monotonic() - started
    started = time.monotonic()
    client.set_secret("slow", "y")
    fast = time.monotonic() - started

    assert slow >= 0.5
    assert fast < 0.5


def test_partial_rate_is_reproducible_with_a_seed(raw: RawVault) -> None:
    def outcomes() -> list[int]:
        raw.manage("PUT", "faults", json={"status": 500, "rate": 0.5, "seed": 42}).raise_for_status()
        return [raw.call("GET", "/secrets").status_code for _ in range(20)]

    first, second = outcomes(), outcomes()

    assert first == second
    assert {200, 500} == set(first)


def test_faults_never_hit_the_challenge_or_management(raw: RawVault) -> None:
    raw.manage("PUT", "faults", json={"status": 503}).raise_for_status()

    assert raw.call("GET", "/secrets", token=False).status_code == 401
    assert raw.manage("GET", "counters").status_code == 200
    assert raw.call("GET", "/secrets").status_code == 503


def test_statuses_without_a_key_vault_name_still_get_an_error_body(raw: RawVault) -> None:
    raw.manage("PUT", "faults", json={"status": 599}).raise_for_status()

    response = raw.call("GET", "/secrets")

    assert response.status_code == 599
    assert response.json()["error"]["code"] == "Error"
    assert "Retry-After" not in response.headers


def test_delete_faults_clears_the_plan(raw: RawVault) -> None:
    raw.manage("PUT", "faults", json={"status": 503}).raise_for_status()
    assert raw.manage("GET", "faults").json()["plan"]["status"] == 503

    assert raw.manage("DELETE", "faults").status_code == 204
    assert raw.manage("GET", "faults").json() == {"plan": None}
    assert raw.call("GET", "/secrets").status_code == 200


@pytest.mark.parametrize(
    "plan",
    [
        {},
        {"status": 200},
        {"status": 429, "rate": 1.5},
        {"status": 429, "operations": ["getSecrets"]},
        {"status": 429, "retryAfter": -1},
        {"status": "429"},
        {"status": 429, "surprise": True},
        [429],
    ],
)
def test_invalid_fault_plans_are_refused(raw: RawVault, plan: object) -> None:
    response = raw.manage("PUT", "faults", json=plan)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadParameter"


def test_unknown_management_resource_and_method(raw: RawVault) -> None:
    assert raw.manage("GET", "nope").status_code == 404
    assert raw.manage("DELETE", "counters").status_code == 405


def test_concurrent_writers_each_get_a_version(make_client: Callable[..., SecretClient], raw: RawVault) -> None:
    clients = [make_client() for _ in range(8)]

    def write(worker: int) -> None:
        for i in range(10):
            clients[worker].set_secret("contended", f"{worker}-{i}")

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        for finished in [pool.submit(write, n) for n in range(len(clients))]:
            finished.result(timeout=30)  # re-raises whatever a writer hit

    versions = [p.version for p in clients[0].list_properties_of_secret_versions("contended")]
    assert len(versions) == len(set(versions)) == 80
    assert raw.counters()["setSecret"] == 80


def test_secret_values_never_reach_the_log(client: SecretClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="devtools.kv_emulator")

    client.set_secret("logged-name", "value-that-must-not-be-logged")
    client.get_secret("logged-name")

    assert "logged-name" in caplog.text  # request lines are logged at debug level...
    assert "value-that-must-not-be-logged" not in caplog.text  # ...bodies never are
