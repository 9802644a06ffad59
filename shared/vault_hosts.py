"""One spelling per vault host, so a secret id compares equal however its address was written.

Hosts are read the way URL parsers and the system resolver read them (WHATWG URL host parsing,
inet_aton): `127.1`, `0x7f.0.0.1`, `0177.0.0.1` and `2130706433` all reach 127.0.0.1, so they
are all stored as 127.0.0.1. DNS names are lower case without the trailing dot; IPv6 addresses
are compressed, and IPv4-mapped ones become the IPv4 address they reach. Pure: no lookups.
"""
from __future__ import annotations

import ipaddress
import re

# The hosts Azure Key Vault answers on (public cloud and the sovereign clouds).
KEY_VAULT_SUFFIXES = (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".vault.microsoftazure.de")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")


class InvalidHost(ValueError):
    """Not a DNS name or IP address a vault can have; the message says why."""


def canonical_host(host: str) -> str:
    """`host` as urllib's `.hostname` gives it (brackets removed), in its one stored spelling:
    a DNS name, dotted-decimal IPv4, or bracketed compressed IPv6."""
    host = host.lower()
    if ":" in host:
        return _ipv6(host)
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if _NUMBER.fullmatch(labels[-1]):
        return _ipv4(labels)  # a host ending in a number is an IPv4 address, or nothing
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidHost("not a DNS name of letters, digits and hyphens (63 at most per label)")
    return name


def is_loopback(host: str) -> bool:
    """For a canonical host: is it a loopback address (127.0.0.0/8 or [::1])?"""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: "localhost" may resolve anywhere its hosts file says


def _ipv6(host: str) -> str:
    if "%" in host:
        raise InvalidHost("an IPv6 zone index cannot name a vault")
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        raise InvalidHost("not a valid IPv6 address") from None
    mapped = address.ipv4_mapped
    return str(mapped) if mapped is not None else f"[{address.compressed}]"


def _ipv4(labels: list[str]) -> str:
    if len(labels) > 4 or not all(_NUMBER.fullmatch(label) for label in labels):
        raise InvalidHost("not a valid IPv4 address")
    numbers = [_ipv4_part(label) for label in labels]
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise InvalidHost("not a valid IPv4 address: a part is out of range")
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(leading))
    return str(ipaddress.IPv4Address(value))


def _ipv4_part(label: str) -> int:
    """Decimal, 0x hexadecimal or 0-prefixed octal, as inet_aton reads each part."""
    try:
        if label.startswith("0x"):
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label[1:], 8)
        return int(label)
    except ValueError:
        raise InvalidHost("not a valid IPv4 address: a part is not a number") from None
