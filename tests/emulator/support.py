"""Helpers shared by the emulator tests: raw HTTPS access and the production client wiring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from azure.keyvault.secrets import SecretClient

from devtools.kv_emulator import EmulatorHandle
from shared.credentials import EmulatorCredential


@dataclass
class RawVault:
    """Plain HTTPS calls, for what the SDK hides: status lines, headers, raw error bodies.

    `verify` goes on every request: requests lets REQUESTS_CA_BUNDLE override Session.verify.
    """

    url: str
    cert_path: str
    session: requests.Session

    def fetch(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, url, verify=self.cert_path, timeout=10, **kwargs)

    def call(
        self, method: str, path: str, *, token: bool = True, api_version: str | None = "7.6", **kwargs: Any
    ) -> requests.Response:
        params = dict(kwargs.pop("params", {}))
        if api_version is not None:
            params["api-version"] = api_version
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = "Bearer test-token"
        return self.fetch(method, self.url + path, params=params, headers=headers, **kwargs)

    def manage(self, method: str, resource: str, **kwargs: Any) -> requests.Response:
        return self.fetch(method, f"{self.url}/_emulator/{resource}", **kwargs)

    def counters(self) -> dict[str, int]:
        response = self.manage("GET", "counters")
        response.raise_for_status()
        return response.json()


def client_for(handle: EmulatorHandle, *, url: str | None = None, **options: Any) -> SecretClient:
    """The production wiring: only verify_challenge_resource and connection_verify differ."""
    return SecretClient(
        url or handle.url,
        EmulatorCredential(),  # type: ignore[arg-type]
        verify_challenge_resource=False,
        connection_verify=str(handle.cert_path),
        **options,
    )
