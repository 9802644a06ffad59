"""Starting and stopping the host: the Python API, the CLI's exit codes, signals and filters."""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from devtools.local_host import AppLoadError, LocalHost
from devtools.local_host.http_server import PortUnavailableError

from .support import HostProcess, free_port, host_env, wait_until, write_settings

pytestmark = pytest.mark.timeout(60)

TINY_APP = '''
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello")
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("hi")


@app.route(route="other", methods=["GET"])
def other(req: func.HttpRequest) -> str:
    return "other"


@app.timer_trigger(arg_name="timer", schedule="%MISSING_SCHEDULE%")
def late(timer: func.TimerRequest) -> None:
    pass
'''


def make_app(root: Path, source: str = TINY_APP, host_json: dict[str, object] | None = None) -> Path:
    app_dir = root / "app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(textwrap.dedent(source))
    (app_dir / "host.json").write_text(json.dumps(host_json or {"version": "2.0"}))
    return app_dir


@pytest.fixture
def isolated_process_state() -> Iterator[None]:
    """The in-process API edits os.environ, sys.path and sys.modules; put them back."""
    environ, path = dict(os.environ), list(sys.path)
    yield
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
    sys.modules.pop("function_app", None)


@pytest.mark.usefixtures("isolated_process_state")
def test_python_api_runs_an_app_in_process(tmp_path: Path) -> None:
    app_dir = make_app(tmp_path, host_json={"version": "2.0", "extensions": {"http": {"routePrefix": ""}}})
    port = free_port()
    (app_dir / "local.settings.json").write_text(json.dumps({"Values": {"A": "1"}, "Host": {"LocalHttpPort": port}}))
    with LocalHost(app_dir, env={"FROM_API": "yes"}) as host:
        assert host.port == port  # Host.LocalHttpPort from local.settings.json
        assert requests.get(f"{host.url}/hello", timeout=5).text == "hi"  # empty routePrefix
        assert requests.post(f"{host.url}/other", timeout=5).status_code == 404
        assert os.environ["A"] == "1" and os.environ["FROM_API"] == "yes"
        # A function whose %SETTING% is missing is "in error"; the others still run, as in the host.
        assert host.errors == [
            "The 'late' function is in error: '%MISSING_SCHEDULE%' does not resolve to a value "
            "(app setting MISSING_SCHEDULE is not set)"
        ]
        banner = host.banner()
        assert f"\thello:  {host.url}/hello" in banner  # no methods: Core Tools prints two spaces
        assert f"\tother: [GET] {host.url}/other" in banner
        assert "late" not in banner
    with socket.socket() as sock:  # stop() released the port
        sock.bind(("127.0.0.1", port))


@pytest.mark.usefixtures("isolated_process_state")
@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import azure.functions as func\nraise RuntimeError('broken at import')\n", "broken at import"),
        ("import azure.functions as func\nX = 1\n", "no FunctionApp"),
        (
            "import azure.functions as func\napp = func.FunctionApp()\n"
            "@app.route(route='x')\ndef x(request):\n    return 'x'\n",
            "declared in Python but not in the function decorators",
        ),
        (
            "import azure.functions as func\napp = func.FunctionApp()\nother = func.FunctionApp()\n",
            "more than one FunctionApp",
        ),
    ],
)
def test_app_errors_stop_the_start(tmp_path: Path, source: str, message: str) -> None:
    app_dir = make_app(tmp_path, source)
    port = free_port()
    with pytest.raises(AppLoadError, match=message):
        LocalHost(app_dir, port=port).start()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port was released


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortUnavailableError, match=f"Port {port} is unavailable"):
            LocalHost(make_app(tmp_path), port=port).start()


def test_cli_exit_code_for_a_broken_app(tmp_path: Path) -> None:
    app_dir = make_app(tmp_path, "raise ImportError('no such module: certsync_missing')\n")
    host = HostProcess(["--app-dir", str(app_dir)], host_env(), free_port()).start(wait_ready=False)
    assert host.process is not None and host.process.wait(20) == 1
    host.stop()
    assert "no such module: certsync_missing" in host.logs()
    assert not any("Host started" in line for line in host.stdout)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_stops_cleanly_on_signals(tmp_path: Path, sig: int) -> None:
    app_dir = make_app(tmp_path)
    write_settings(app_dir, {"MISSING_SCHEDULE": "0 0 0 1 1 *"})
    host = HostProcess(["--app-dir", str(app_dir)], host_env(), free_port()).start()
    assert requests.get(host.url + "/api/hello", timeout=5).text == "hi"
    assert host.stop(sig) == 0
    assert host.stdout[-2:] == ["Stopping host...", "Host stopped."]


QUEUE_APP = '''
import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="jobs", connection="AzureWebJobsStorage")
def jobs(msg: func.QueueMessage) -> None:
    pass


@app.route(route="alive", auth_level=func.AuthLevel.ANONYMOUS)
def alive(req: func.HttpRequest) -> str:
    return "yes"
'''


def test_unreachable_storage_is_logged_and_does_not_block_http_or_shutdown(tmp_path: Path) -> None:
    app_dir = make_app(tmp_path, QUEUE_APP)
    dead = free_port()  # nothing listens here
    write_settings(app_dir, {
        "AzureWebJobsStorage": f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
                               f"QueueEndpoint=http://127.0.0.1:{dead}/devstoreaccount1;",
    })
    host = HostProcess(["--app-dir", str(app_dir)], host_env(), free_port()).start()
    assert requests.get(host.url + "/api/alive", timeout=5).text == "yes"
    wait_until(lambda: "polling queue 'jobs' for jobs failed" in host.logs(), 10, "no storage failure warning")
    started = time.monotonic()
    assert host.stop() == 0
    assert time.monotonic() - started < 5


def test_cli_functions_filter_disabled_setting_and_settings_file(tmp_path: Path) -> None:
    app_dir = make_app(tmp_path)
    (app_dir / "dev.settings.json").write_text(
        json.dumps({"Values": {"MISSING_SCHEDULE": "0 0 0 1 1 *", "AzureWebJobs.other.Disabled": "true"}})
    )
    args = ["--app-dir", str(app_dir), "--settings", "dev.settings.json", "--functions", "hello", "other"]
    host = HostProcess(args, host_env(), free_port()).start()
    try:
        assert f"\thello:  {host.url}/api/hello" in host.stdout
        assert "Function other is disabled." in host.stdout
        assert not any("late" in line for line in host.stdout)  # not in --functions
        assert requests.get(host.url + "/api/other", timeout=5).status_code == 404
        assert requests.post(host.url + "/admin/functions/late", json={"input": ""}, timeout=5).status_code == 404
    finally:
        host.stop()


def test_cli_refuses_a_missing_explicit_settings_file(tmp_path: Path) -> None:
    app_dir = make_app(tmp_path)
    host = HostProcess(["--app-dir", str(app_dir), "--settings", "nope.json"], host_env(), free_port())
    host.start(wait_ready=False)
    assert host.process is not None and host.process.wait(20) == 1
    host.stop()
    assert "nope.json not found" in host.logs()
