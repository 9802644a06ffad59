"""CORS from local.settings.json `Host.CORS`, as Core Tools applies it: preflights answered before any
function or key check, Access-Control-Allow-Origin on replies to allowed origins, nothing without it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
import requests

from devtools.local_host.app_settings import read_local_settings
from devtools.local_host.cors import CorsPolicy
from devtools.local_host.discovery import Binding, FunctionSpec
from devtools.local_host.http_front import HttpFrontEnd
from devtools.local_host.invoker import InvocationResult
from devtools.local_host.routing import RouteTable

from .support import HostProcess, SampleApp, free_port, host_env

APP = "https://app.example.com"
PREFLIGHT = [
    ("Origin", APP),
    ("Access-Control-Request-Method", "POST"),
    ("Access-Control-Request-Headers", "content-type"),
]


class _Host:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def invoke(self, function: FunctionSpec, trigger_value: Any, reason: str) -> InvocationResult:
        self.ran.append(function.name)
        return InvocationResult("id", True, func.HttpResponse("ran"))

    def start_admin_run(self, name: str, input_text: str | None) -> bool:
        return True

    def describe(self) -> dict[str, Any]:
        return {"status": {}, "functions": []}


def _front(cors: CorsPolicy | None) -> tuple[HttpFrontEnd, _Host]:
    routes: RouteTable[FunctionSpec] = RouteTable("api")
    trigger = Binding("httpTrigger", "req", "IN", {"authLevel": "ANONYMOUS", "route": "things", "methods": ["POST"]})
    routes.add("things", ["POST"], FunctionSpec("things", trigger, (trigger,), lambda req: None))
    host = _Host()
    return HttpFrontEnd(routes, host, None, cors), host


def _headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {k.lower(): v for k, v in pairs}


@pytest.mark.parametrize(
    ("setting", "credentials", "allow_origin"),
    [("*", False, "*"), (f"https://other.example.com, {APP}", False, APP), ("*", True, APP)],
)
def test_preflight_from_an_allowed_origin_is_204_and_runs_nothing(
    setting: str, credentials: bool, allow_origin: str
) -> None:
    front, host = _front(CorsPolicy.from_setting(setting, credentials))

    reply = front.handle("OPTIONS", "/api/things", PREFLIGHT, b"", "http://127.0.0.1:7071")

    headers = _headers(reply.headers)
    assert reply.status == 204 and host.ran == []
    assert headers["access-control-allow-origin"] == allow_origin
    assert headers["access-control-allow-methods"] == "POST"
    assert headers["access-control-allow-headers"] == "content-type"
    assert ("access-control-allow-credentials" in headers) is credentials


def test_preflight_from_another_origin_gets_no_allow_headers() -> None:
    front, host = _front(CorsPolicy.from_setting("https://other.example.com"))

    reply = front.handle("OPTIONS", "/api/things", PREFLIGHT, b"", "http://127.0.0.1:7071")

    assert reply.status == 204 and host.ran == []
    assert not any(k.lower().startswith("access-control-") for k, _ in reply.headers)


def test_an_actual_request_from_an_allowed_origin_carries_allow_origin() -> None:
    front, host = _front(CorsPolicy.from_setting(APP))

    reply = front.handle("POST", "/api/things", [("Origin", APP)], b"", "http://127.0.0.1:7071")

    assert reply.status == 200 and host.ran == ["things"]
    assert _headers(reply.headers)["access-control-allow-origin"] == APP


def test_without_host_cors_an_options_request_is_404_as_in_core_tools() -> None:
    front, host = _front(CorsPolicy.from_setting(None))

    reply = front.handle("OPTIONS", "/api/things", PREFLIGHT, b"", "http://127.0.0.1:7071")

    assert reply.status == 404 and host.ran == []


def test_host_cors_is_read_from_local_settings(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    host = {"CORS": f"{APP},http://localhost:3000", "CORSCredentials": True}
    path.write_text(json.dumps({"Values": {}, "Host": host}))

    settings = read_local_settings(path)

    assert (settings.cors, settings.cors_credentials) == (f"{APP},http://localhost:3000", True)


def test_the_host_process_answers_a_browser_preflight(sample_app: SampleApp, tmp_path: Path) -> None:
    document = json.loads((sample_app.app_dir / "local.settings.json").read_text())
    settings = tmp_path / "cors.settings.json"
    settings.write_text(json.dumps({**document, "Host": {"CORS": APP}}))
    host = HostProcess(["--app-dir", str(sample_app.app_dir), "--settings", str(settings)], host_env(), free_port())
    host.start()
    try:
        preflight = requests.options(f"{host.url}/api/hello", headers=dict(PREFLIGHT), timeout=10)
        hello = requests.get(f"{host.url}/api/hello", headers={"Origin": APP}, timeout=10)
    finally:
        host.stop()

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP
    assert hello.status_code == 200 and hello.headers["Access-Control-Allow-Origin"] == APP
