"""Hostname rules: one normal form (lowercase ASCII, punycode) and one coverage rule.

Hostnames reach Table Storage keys, OData filters and certificate SANs, so only strict DNS
names get past `normalize_hostname`; everything downstream may rely on that.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import idna  # IDNA 2008 + UTS 46; arrives with requests/acme (see requirements.txt)

from shared.errors import BadRequest

MAX_HOSTNAME_LENGTH = 253
MAX_HOSTNAMES = 100
_SHOWN_CHARS = 100  # error messages never echo more than this much caller input
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_WILDCARD_PREFIX = "*."


def normalize_hostname(raw: str) -> str:
    """Return the canonical form of one hostname, or raise BadRequest(code="InvalidHostname").

    A wildcard is accepted only as the whole first label, so `*.example.com` but not
    `a.*.example.com`, `*a.example.com` or `*.com`.
    """
    if not isinstance(raw, str):
        raise BadRequest(f"hostname must be text, not {type(raw).__name__}", code="InvalidHostname")
    name = raw.strip()
    if not name:
        raise BadRequest("hostname is empty", code="InvalidHostname")
    if _is_ip_address(name):
        raise _invalid(raw, "IP addresses are not supported, only DNS names")
    wildcard = name.startswith(_WILDCARD_PREFIX)
    if wildcard:
        name = name[len(_WILDCARD_PREFIX):]
    if not name.isascii():
        name = _to_ascii(raw, name)
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    _check_dns_name(raw, name, wildcard)
    return _WILDCARD_PREFIX + name if wildcard else name


def normalize_hostnames(raws: Iterable[str]) -> tuple[str, ...]:
    """Normalise a certificate's hostname list, keeping order (the first becomes the CN)."""
    if isinstance(raws, str):
        # A bare string would otherwise be taken letter by letter.
        raise BadRequest("hostnames must be a list of names, not a single string", code="InvalidHostname")
    names = tuple(normalize_hostname(raw) for raw in raws)
    if not 1 <= len(names) <= MAX_HOSTNAMES:
        raise BadRequest(
            f"a certificate needs 1 to {MAX_HOSTNAMES} hostnames, got {len(names)}", code="InvalidHostnameCount"
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise BadRequest(f"hostname {_shown(name)} is listed more than once", code="DuplicateHostname")
        seen.add(name)
    return names


def covers(names: Iterable[str], hostname: str) -> bool:
    """Whether a certificate with these DNS SANs is valid for `hostname` (RFC 6125 matching).

    A wildcard stands for exactly one whole label: `*.example.com` covers `a.example.com` but
    neither `example.com` nor `a.b.example.com`.
    """
    host = _fold(hostname)
    if not host:
        return False
    first_label, _, parent = host.partition(".")
    for name in names:
        san = _fold(name)
        if san == host:
            return True
        if san.startswith(_WILDCARD_PREFIX) and first_label and parent:
            base = san[len(_WILDCARD_PREFIX):]
            # Single-label bases (`*.com`) are never honoured, as browsers do.
            if "." in base and "*" not in base and base == parent:
                return True
    return False


def _fold(name: str) -> str:
    name = name.strip().lower()
    return name[:-1] if name.endswith(".") else name


def _to_ascii(raw: str, name: str) -> str:
    """Map an internationalised name to punycode the way browsers do (UTS 46, non-transitional)."""
    try:
        mapped = idna.uts46_remap(name, std3_rules=True, transitional=False)
        return ".".join(
            label if label.isascii() else idna.alabel(label).decode("ascii") for label in mapped.split(".")
        )
    except (idna.IDNAError, UnicodeError) as err:
        raise _invalid(raw, f"not a valid internationalised name ({_short(str(err))})") from None


def _check_dns_name(raw: str, name: str, wildcard: bool) -> None:
    if "*" in name:
        raise _invalid(raw, "a wildcard is allowed only as the whole first label, as in *.example.com")
    if len(name) + (len(_WILDCARD_PREFIX) if wildcard else 0) > MAX_HOSTNAME_LENGTH:
        raise _invalid(raw, f"longer than {MAX_HOSTNAME_LENGTH} characters")
    labels = name.split(".")
    for label in labels:
        if not label:
            raise _invalid(raw, "has an empty label")
        if len(label) > 63:
            raise _invalid(raw, "has a label longer than 63 characters")
        if not _LABEL.fullmatch(label):
            raise _invalid(
                raw, "labels may hold only letters, digits and inner hyphens (no spaces, quotes or underscores)"
            )
        if label.startswith("xn--") and not _is_a_label(label):
            raise _invalid(raw, f"label {label!r} is not valid punycode")
    if len(labels) < 2:
        if wildcard:
            raise _invalid(raw, "a wildcard must be followed by at least two labels, as in *.example.com")
        raise _invalid(raw, "needs at least two labels, as in example.com")
    if labels[-1].isdigit():
        raise _invalid(raw, "the last label cannot be all digits")


def _is_a_label(label: str) -> bool:
    try:
        idna.ulabel(label)
    except (idna.IDNAError, UnicodeError):
        return False
    return True


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _invalid(raw: str, reason: str) -> BadRequest:
    return BadRequest(f"invalid hostname {_shown(raw)}: {reason}", code="InvalidHostname")


def _shown(value: str) -> str:
    return repr(value[:_SHOWN_CHARS]) + ("..." if len(value) > _SHOWN_CHARS else "")


def _short(text: str) -> str:
    return text[:_SHOWN_CHARS]
