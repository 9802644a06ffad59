"""DNS-01 through pebble-challtestsrv's management API: the test double for a real DNS provider.

challtestsrv keeps every value set for a host and can only drop them all at once, so
clear_txt removes the other values at that name too. That is harmless in tests, where
each order uses its own names, and one reason this provider lives in devtools/ (never deployed):
the tests and benchmarks hand it to shared.composition / AppContext, no app setting selects it.
"""
from __future__ import annotations

import requests

from shared.dns.base import absolute_name
from shared.errors import DependencyError


class ChallTestSrvProvider:
    def __init__(self, management_url: str, *, timeout: float = 10.0) -> None:
        self.management_url = management_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def set_txt(self, fqdn: str, value: str) -> None:
        self._post("set-txt", {"host": absolute_name(fqdn), "value": value})

    def clear_txt(self, fqdn: str, value: str) -> None:
        self._post("clear-txt", {"host": absolute_name(fqdn)})

    def close(self) -> None:
        self._session.close()

    def _post(self, action: str, body: dict[str, str]) -> None:
        url = f"{self.management_url}/{action}"
        try:
            response = self._session.post(url, json=body, timeout=self.timeout)
        except requests.RequestException as err:
            raise DependencyError(
                f"challtestsrv at {self.management_url} unreachable for {action}: {type(err).__name__}",
                code="DnsUpdateFailed",
            ) from err
        if response.status_code != 200:
            raise DependencyError(
                f"challtestsrv {action} for {body['host']} failed with HTTP {response.status_code}",
                code="DnsUpdateFailed",
            )
