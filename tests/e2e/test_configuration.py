"""A bad app setting is found once, at start: logged once, GET /api/health answers 503 with the
reason, every other endpoint a 503 ARM-style ConfigurationError (never a 500 per request)."""
from __future__ import annotations

import pytest

from devtools.processes import env_only_host, free_port
from tests.conftest import Api, app_env


@pytest.fixture(scope="module")
def misconfigured(storage_and_vault, tmp_path_factory):
    """A host whose KEY_VAULT_URL is not https (the function app must still load and answer)."""
    connection, vault_url, cert, logs = storage_and_vault
    port = free_port()
    env = app_env(connection, vault_url, cert, KEY_VAULT_URL="http://vault.example.com")
    log_path = logs / "host-misconfigured.log"
    host = env_only_host(port, env, tmp_path_factory.mktemp("misconfigured-host"), log_path=log_path)
    host.start()
    try:
        host.wait_ready(90)
        yield Api(f"http://127.0.0.1:{port}"), log_path
    finally:
        host.stop()


def test_health_is_503_with_the_reason(misconfigured):
    api, _ = misconfigured
    response = api.call("GET", "health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "Unhealthy"
    assert body["configuration"]["status"] == "Unhealthy"
    assert "KEY_VAULT_URL" in body["configuration"]["detail"] and "https" in body["configuration"]["detail"]
    assert body["dependencies"]["keyVault"]["detail"] == "ConfigurationError"


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "certificates", None),
        ("POST", "certificates", {"name": "x", "hostnames": ["x.example.com"]}),
        ("GET", "operations", None),
        ("GET", "ca/root.pem", None),
        ("GET", "ca/crl", None),
    ],
)
def test_every_endpoint_answers_a_clear_503(misconfigured, method, path, body):
    api, _ = misconfigured
    response = api.call(method, path, body)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "ConfigurationError"
    assert "KEY_VAULT_URL" in error["message"]
    assert "Traceback" not in response.text


def test_the_problem_is_logged_once_at_start(misconfigured):
    api, log_path = misconfigured
    for _ in range(3):
        api.call("GET", "certificates")
    log = log_path.read_text(errors="replace")
    assert log.count("certsync cannot serve") == 1, log[-2000:]
    assert "KEY_VAULT_URL" in log
