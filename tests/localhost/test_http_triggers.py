"""HTTP triggers over real HTTP against the host subprocess running sample_app."""
from __future__ import annotations

import pytest
import requests

from .support import HostProcess, wait_until

pytestmark = pytest.mark.timeout(60)


def get(host: HostProcess, path: str, **kwargs: object) -> requests.Response:
    return requests.get(host.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_function_list_is_printed_like_core_tools(sample_host: HostProcess) -> None:
    out = sample_host.stdout
    base = sample_host.url
    assert "Functions:" in out
    assert f"\thello: [GET,POST] {base}/api/hello" in out
    assert f"\titem_by_id: [GET] {base}/api/items/{{id:int}}" in out
    assert f"\tping: [GET] {base}/api/ops/ping" in out  # from the blueprint
    assert "\ttick: timerTrigger" in out
    assert "\theartbeat: timerTrigger" in out
    assert "\twork_queue: queueTrigger" in out  # @app.function_name wins over the Python name
    http_lines = [i for i, line in enumerate(out) if line.startswith("\t") and "http://" in line]
    other_lines = [i for i, line in enumerate(out) if line.startswith("\t") and "http://" not in line]
    assert max(http_lines) < min(other_lines), "HTTP functions are listed first, as Core Tools does"
    assert out.index("Functions:") < len(out) - 1 and "Host started. Listening on" in out[-1]


def test_query_parameters_reach_the_function(sample_host: HostProcess) -> None:
    response = get(sample_host, "/api/hello", params={"name": "certsync"})
    assert response.status_code == 200
    assert response.text == "Hello, certsync!"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_auth_level_function_is_not_enforced_locally(sample_host: HostProcess) -> None:
    assert get(sample_host, "/api/hello").status_code == 200  # no x-functions-key, like Core Tools


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/items/42", {"id": 42}),
        ("/api/items/widget", {"name": "widget"}),
        ("/api/items/new", {"form": True}),  # a literal beats both parameters
        ("/API/Items/7", {"id": 7}),  # routing is case-insensitive
        ("/api/items/7/", {"id": 7}),  # trailing slash ignored
        ("/api/greet/ada", {"name": "ada"}),
        ("/api/greet", {"name": None}),  # optional parameter left out
        ("/api/files/a/b/c.txt", {"path": "a/b/c.txt"}),  # catch-all
        ("/api/files/with%20space", {"path": "with space"}),  # decoded
    ],
)
def test_route_templates(sample_host: HostProcess, path: str, expected: dict[str, object]) -> None:
    response = get(sample_host, path)
    assert response.status_code == 200, response.text
    assert response.json() == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nothing-here"),
        ("GET", "/api/items/abc-1"),  # neither int nor alpha
        ("POST", "/api/items/5"),  # route exists for GET only: Core Tools answers 404, not 405
        ("GET", "/api/echo/x"),
        ("GET", "/hello"),  # missing the route prefix
        ("POST", "/admin/unknown"),
    ],
)
def test_unknown_routes_and_wrong_methods_are_404(sample_host: HostProcess, method: str, path: str) -> None:
    response = requests.request(method, sample_host.url + path, timeout=10)
    assert response.status_code == 404
    assert response.content == b""


def test_body_headers_and_response_shape(sample_host: HostProcess) -> None:
    response = requests.post(
        sample_host.url + "/api/echo/t1?q=1&q=2&flag=",
        json={"a": [1, 2]},
        headers={"X-Test": "hello"},
        timeout=10,
    )
    assert response.status_code == 201
    assert response.headers["X-Echo"] == "yes"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "method": "POST",
        "url": f"{sample_host.url}/api/echo/t1?q=1&q=2&flag=",
        "params": {"q": "1,2", "flag": ""},  # repeated names joined with ',' as the host does
        "route": {"tag": "t1"},
        "header": "hello",
        "json": {"a": [1, 2]},
    }


def test_put_with_chunked_body(sample_host: HostProcess) -> None:
    chunks = iter([b'{"chunked":', b" true}"])
    response = requests.put(sample_host.url + "/api/echo/c", data=chunks, timeout=10)
    assert response.status_code == 201
    assert response.json()["json"] == {"chunked": True}


def test_exception_is_500_without_trace_and_logged(sample_host: HostProcess) -> None:
    response = get(sample_host, "/api/boom")
    assert response.status_code == 500
    assert response.content == b""
    logs = wait_until(lambda: "secret detail 12345" in sample_host.logs() and sample_host.logs(), 5, "no error log")
    assert "Traceback" in str(logs)
    assert "Executed 'Functions.boom' (Failed" in str(logs)
    assert "about to fail" in str(logs)  # the function's own logging reaches the console


def test_async_function_and_explicit_charset(sample_host: HostProcess) -> None:
    response = get(sample_host, "/api/async/x1")
    assert response.status_code == 200
    assert response.text == "async x1"
    assert response.headers["Content-Type"] == "text/html; charset=latin-1"


def test_str_return_value_is_a_200(sample_host: HostProcess) -> None:
    response = get(sample_host, "/api/plain")
    assert (response.status_code, response.text) == (200, "just text")


def test_head_is_not_implied_by_get(sample_host: HostProcess) -> None:
    assert requests.head(sample_host.url + "/api/plain", timeout=10).status_code == 404


def test_context_parameter_and_local_settings(sample_host: HostProcess) -> None:
    only_in_file = get(sample_host, "/api/settings/GREETING").json()
    assert only_in_file == {"name": "GREETING", "value": "from-settings", "function": "setting"}
    # An environment variable beats local.settings.json, as `func start` does ...
    assert get(sample_host, "/api/settings/SHADOWED").json()["value"] == "from-environment"
    assert any("Skipping 'SHADOWED' from local settings" in line for line in sample_host.stderr)
    # ... and Core Tools' own settings are present.
    assert get(sample_host, "/api/settings/AZURE_FUNCTIONS_ENVIRONMENT").json()["value"] == "Development"
    assert get(sample_host, "/api/settings/WEBSITE_HOSTNAME").json()["value"] == f"127.0.0.1:{sample_host.port}"


def test_admin_status_and_function_list(sample_host: HostProcess) -> None:
    status = get(sample_host, "/admin/host/status").json()
    assert status["state"] == "Running"
    names = {f["name"] for f in get(sample_host, "/admin/functions").json()}
    assert {"hello", "ping", "tick", "work_queue"} <= names
