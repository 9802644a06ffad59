"""The DNS-provider interface DNS-01 needs: publish one TXT value at a name, then withdraw it.

Values are added and removed one at a time because a name can carry several at once
(`example.com` and `*.example.com` in one order share `_acme-challenge.example.com.`).
Failures raise shared.errors.DependencyError (code "DnsUpdateFailed"); a name no zone covers
raises shared.errors.BadRequest (code "DnsZoneNotFound").
"""
from __future__ import annotations

from typing import Protocol


class DnsProvider(Protocol):
    def set_txt(self, fqdn: str, value: str) -> None:
        """Add `value` to the TXT record set at `fqdn` (e.g. `_acme-challenge.example.com.`)."""
        ...

    def clear_txt(self, fqdn: str, value: str) -> None:
        """Remove `value` from the TXT record set at `fqdn`; other values stay. Idempotent."""
        ...


def absolute_name(name: str) -> str:
    """Lowercase with exactly one trailing dot, so `A.example.com` and `a.example.com.` compare equal."""
    stripped = name.strip().rstrip(".").lower()
    if not stripped:
        raise ValueError("a DNS name cannot be empty")
    return stripped + "."
