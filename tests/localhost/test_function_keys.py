"""Function keys, switched on: the host's rules for which key opens which function, the 401
with an empty body, and the keys file (created when missing, re-read when it changes)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
import requests

from devtools.local_host.discovery import Binding, FunctionSpec
from devtools.local_host.function_keys import FunctionKeys, write_host_keys
from devtools.local_host.http_front import HttpFrontEnd
from devtools.local_host.invoker import InvocationResult
from devtools.local_host.routing import RouteTable

from .support import HostProcess, SampleApp, free_port, host_env

MASTER, DEFAULT, OWN, OTHERS = "master-key_1", "default-key_2", "own-key_3", "others-key_4"


class _Host:
    def invoke(self, function: FunctionSpec, trigger_value: Any, reason: str) -> InvocationResult:
        return InvocationResult("id", True, func.HttpResponse(f"ran {function.name}"))

    def start_admin_run(self, name: str, input_text: str | None) -> bool:
        return True

    def describe(self) -> dict[str, Any]:
        return {"status": {"state": "Running"}, "functions": []}


def _spec(name: str, level: str) -> FunctionSpec:
    trigger = Binding("httpTrigger", "req", "IN", {"authLevel": level, "route": name, "methods": ["GET"]})
    return FunctionSpec(name, trigger, (trigger,), lambda req: None)


def _front(folder: Path | None) -> HttpFrontEnd:
    routes: RouteTable[FunctionSpec] = RouteTable("api")
    for name, level in (("open", "ANONYMOUS"), ("guarded", "FUNCTION"), ("other", "FUNCTION"), ("root", "ADMIN")):
        routes.add(name, ["GET"], _spec(name, level))
    if folder is None:
        return HttpFrontEnd(routes, _Host())
    write_host_keys(folder, master=MASTER, function_keys={"default": DEFAULT})
    (folder / "guarded.json").write_text(json.dumps({"keys": [{"name": "default", "value": OWN, "encrypted": False}]}))
    (folder / "other.json").write_text(json.dumps({"keys": [{"name": "default", "value": OTHERS, "encrypted": False}]}))
    return HttpFrontEnd(routes, _Host(), FunctionKeys(folder))


def _get(front: HttpFrontEnd, target: str, headers: list[tuple[str, str]] | None = None) -> tuple[int, bytes]:
    reply = front.handle("GET", target, headers or [], b"", "http://127.0.0.1:7071")
    return reply.status, reply.body


@pytest.mark.parametrize(
    "target,headers,status",
    [
        ("/api/open", [], 200),  # anonymous functions need no key
        ("/api/guarded", [], 401),
        ("/api/guarded?code=", [], 401),
        ("/api/guarded?code=wrong", [], 401),
        (f"/api/guarded?code={DEFAULT}", [], 200),  # a host function key
        ("/api/guarded", [("X-Functions-Key", DEFAULT)], 200),
        (f"/api/guarded?code={DEFAULT}", [("x-functions-key", "wrong")], 401),  # the header wins over code
        (f"/api/guarded?code={OWN}", [], 200),  # the function's own key
        (f"/api/guarded?code={OTHERS}", [], 401),  # another function's key
        (f"/api/guarded?code={MASTER}", [], 200),  # the master key opens everything
        (f"/api/root?code={DEFAULT}", [], 401),  # admin level needs the master key
        (f"/api/root?code={MASTER}", [], 200),
        ("/admin/host/status", [], 401),
        ("/admin/host/status", [("x-functions-key", DEFAULT)], 401),
        ("/admin/host/status", [("x-functions-key", MASTER)], 200),
        ("/api/missing", [], 404),  # routing first: an unknown route is 404 whatever the key
    ],
)
def test_which_key_opens_which_function(tmp_path, target, headers, status):
    code, body = _get(_front(tmp_path), target, headers)
    assert code == status
    if status == 401:
        assert body == b""  # Azure answers 401 with an empty body


def test_keys_are_not_enforced_when_off():
    assert _get(_front(None), "/api/guarded")[0] == 200
    assert _get(_front(None), "/admin/host/status")[0] == 200


def test_a_changed_keys_file_takes_effect_at_once(tmp_path):
    front = _front(tmp_path)
    assert _get(front, f"/api/guarded?code={DEFAULT}")[0] == 200
    write_host_keys(tmp_path, master=MASTER, function_keys={"rotated": "new-key_5"})
    assert _get(front, f"/api/guarded?code={DEFAULT}")[0] == 401
    assert _get(front, "/api/guarded?code=new-key_5")[0] == 200


def test_an_unreadable_keys_file_refuses_requests(tmp_path):
    front = _front(tmp_path)
    (tmp_path / "host.json").write_text("{not json")
    assert _get(front, f"/api/guarded?code={DEFAULT}") == (401, b"")
    assert _get(front, "/api/open")[0] == 200


def test_cli_with_enable_auth_creates_keys_and_enforces_them(sample_app: SampleApp, tmp_path):
    keys_dir = tmp_path / "keys"
    host = HostProcess(["--app-dir", str(sample_app.app_dir), "--enableAuth"],
                       host_env(LOCAL_HOST_KEYS_DIR=str(keys_dir)), free_port())
    host.start()
    try:
        document = json.loads((keys_dir / "host.json").read_text())
        master, default = document["masterKey"]["value"], document["functionKeys"][0]["value"]
        assert len(master) >= 40 and len(default) >= 40 and master != default
        refused = requests.get(f"{host.url}/api/hello", timeout=10)
        assert refused.status_code == 401 and refused.content == b""
        assert requests.get(f"{host.url}/api/hello", params={"code": default}, timeout=10).status_code == 200
        for key, status in ((default, 401), (master, 200)):
            listed = requests.get(f"{host.url}/admin/functions", headers={"x-functions-key": key}, timeout=10)
            assert listed.status_code == status
    finally:
        host.stop()
    output = "\n".join(host.stdout + host.stderr)
    assert "Function keys are enforced" in output and master not in output and default not in output


def test_a_broken_keys_file_stops_the_start(sample_app: SampleApp, tmp_path):
    (tmp_path / "host.json").write_text(json.dumps({"masterKey": {"name": "master", "value": "x", "encrypted": True}}))
    host = HostProcess(["--app-dir", str(sample_app.app_dir)],
                       host_env(LOCAL_HOST_ENABLE_AUTH="true", LOCAL_HOST_KEYS_DIR=str(tmp_path)), free_port())
    host.start(wait_ready=False)
    assert host.process is not None and host.process.wait(30) == 1
    host.stop()
    assert any("encrypted keys are not supported" in line for line in host.stderr), host.stderr
