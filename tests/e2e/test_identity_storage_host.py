"""End to end with identity-based storage: the local host's queue trigger and the app reach an
HTTPS Azurite with OAuth on through a user-assigned managed identity; no connection string
anywhere in the app's environment."""
from __future__ import annotations

import os
import time
from pathlib import Path

from devtools.processes import env_only_host, free_port
from tests.conftest import USER_ASSIGNED_CLIENT_ID, Api, identity_app_env


def wait_for_line(log: Path, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


def test_create_certificate_runs_through_the_queue_trigger(oauth_storage, identity_endpoint, storage_and_vault,
                                                           tmp_path, unique):
    _, vault_url, vault_cert, _ = storage_and_vault
    env = identity_app_env(oauth_storage, identity_endpoint, vault_url, vault_cert)
    app_environment = {**os.environ, **env}
    assert "AzureWebJobsStorage" not in app_environment
    assert not any("AccountKey=" in value for value in app_environment.values())
    asked_before = len(identity_endpoint.requests)
    port = free_port()
    host = env_only_host(port, env, tmp_path / "host", log_path=tmp_path / "host.log")
    host.start()
    try:
        host.wait_ready(90)
        api = Api(f"http://127.0.0.1:{port}")
        assert api.call("GET", "health").json()["dependencies"]["tableStorage"]["status"] == "Healthy"
        name = f"idh-{unique}"
        op = api.wait_operation(api.call("POST", "certificates", {"name": name, "hostnames": [f"{name}.example.com"]}))
        assert op["status"] == "Succeeded", op
        assert api.call("GET", f"certificates/{name}").json()["status"] == "Issued"
        wait_for_line(tmp_path / "host.log", "timer auto_renew: this instance holds the listener lock")  # blob lease
    finally:
        host.stop()
    log = (tmp_path / "host.log").read_text()
    assert "Executed 'Functions.run_operation_queue' (Succeeded" in log, log[-3000:]
    asked = identity_endpoint.requests[asked_before:]
    assert asked and {r.client_id for r in asked} == {USER_ASSIGNED_CLIENT_ID}
