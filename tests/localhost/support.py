"""Helpers for the local host tests: free ports, polling, the host as a subprocess."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE = REPO_ROOT / "node_modules" / ".bin" / "azurite"
READY_MARKER = "Host started. Listening on"
WORK_QUEUE = "work-items"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], object], timeout: float, message: str, interval: float = 0.1) -> object:
    """Poll until `check()` is truthy; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s: {message}")
        time.sleep(interval)


def wait_for_port(port: int, timeout: float) -> None:
    def accepts() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until(accepts, timeout, f"nothing listening on port {port}")


def _collect(stream: object, sink: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.append(line.rstrip("\n"))


@dataclass
class HostProcess:
    """`python -m devtools.local_host` in a subprocess, its output collected line by line."""

    args: list[str]
    env: dict[str, str]
    port: int
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True) -> "HostProcess":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.local_host", *self.args, "--port", str(self.port)],
            cwd=REPO_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for stream, sink in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            threading.Thread(target=_collect, args=(stream, sink), daemon=True).start()
        if wait_ready:
            wait_until(self._ready, 20, "host never printed its ready line")
        return self

    def _ready(self) -> bool:
        if any(READY_MARKER in line for line in self.stdout):
            return True
        if self.process is not None and self.process.poll() is not None:
            time.sleep(0.2)
            pytest.fail(f"host exited with {self.process.returncode}:\n" + "\n".join(self.stderr))
        return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        time.sleep(0.1)  # let the reader threads drain the pipes
        return self.process.returncode

    def logs(self) -> str:
        return "\n".join(self.stderr)


def host_env(**extra: str) -> dict[str, str]:
    # The host must see only what each test gives it, not the developer's or CI's Functions settings.
    ours = ("AzureWebJobs", "AzureFunctionsJobHost", "AZURE_FUNCTIONS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1", **extra)
    return env


def write_settings(app_dir: Path, values: dict[str, str]) -> None:
    document = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "python", **values}}
    (app_dir / "local.settings.json").write_text(json.dumps(document, indent=2))


@dataclass(frozen=True)
class Azurite:
    queue_port: int
    blob_port: int

    @property
    def connection_string(self) -> str:
        return (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={DEV_KEY};QueueEndpoint=http://127.0.0.1:{self.queue_port}/devstoreaccount1;"
            f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/devstoreaccount1;"
        )


@dataclass(frozen=True)
class SampleApp:
    app_dir: Path
    record_dir: Path

    def records(self, name: str) -> list[dict[str, object]]:
        path = self.record_dir / f"{name}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def wait_for(self, name: str, count: int = 1, timeout: float = 10) -> list[dict[str, object]]:
        """At least `count` records of function `name`, waiting up to `timeout` seconds."""
        found = wait_until(lambda: len(self.records(name)) >= count and self.records(name), timeout,
                           f"{name} recorded fewer than {count} runs")
        return found  # type: ignore[return-value]
