"""Loopback addresses: the only hosts for which emulator-only trust is allowed (a self-signed
certificate, a development token). Anything else gets the normal Azure defaults."""
from __future__ import annotations

from urllib.parse import urlparse

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback_url(url: str) -> bool:
    return (urlparse(url).hostname or "") in LOOPBACK_HOSTS
