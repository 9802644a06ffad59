"""A small JSON client for the app's HTTP API, as a person or a pipeline would call it."""
from __future__ import annotations

import time
from typing import Any

import requests


class ApiError(RuntimeError):
    pass


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 202)) -> requests.Response:
        response = self.http.request(method, f"{self.base}/api/{path.lstrip('/')}", json=body, timeout=30)
        if response.status_code not in expect:
            raise ApiError(f"{method} /api/{path} answered {response.status_code}: {response.text[:300]}")
        return response

    def get(self, path: str) -> Any:
        return self.call("GET", path, expect=(200,)).json()

    def operation(self, location: str) -> dict:
        return self.http.get(f"{self.base}{location}", timeout=30).json()

    def wait_operation(self, location: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            op = self.operation(location)
            if op["status"] in ("Succeeded", "Failed"):
                if op["status"] == "Failed":
                    raise ApiError(f"operation {location} failed: {op.get('error')}")
                return op
            if time.monotonic() > deadline:
                raise ApiError(f"operation {location} did not finish in {timeout:.0f}s: {op['status']}")
            time.sleep(0.05)
