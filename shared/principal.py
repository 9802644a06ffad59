"""App Service Authentication principal (X-MS-CLIENT-PRINCIPAL) and role checks.

App Service puts the signed-in caller in a base64 JSON header:
{"auth_typ", "name_typ", "role_typ", "claims": [{"typ", "val"}]}. The platform strips any
client-sent copy, so the header can be trusted only behind App Service Authentication; that is
why roles are enforced only when REQUIRE_ROLES=true.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from shared.errors import Forbidden, Unauthorized

READ = "Certificates.Read"
WRITE = "Certificates.Write"
EXPORT = "Certificates.Export"
ROLE_CLAIMS = {"roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}
NAME_CLAIMS = {"name", "preferred_username", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"}


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]


def parse_principal(header: str | None) -> Principal | None:
    if not header:
        return None
    try:
        data = json.loads(base64.b64decode(header, validate=False))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Unauthorized("X-MS-CLIENT-PRINCIPAL is not valid base64 JSON", code="InvalidPrincipal") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims", []), list):
        raise Unauthorized("X-MS-CLIENT-PRINCIPAL has no claims", code="InvalidPrincipal")
    role_typ = data.get("role_typ") or ""
    name_typ = data.get("name_typ") or ""
    roles, name = set(), ""
    for claim in data.get("claims", []):
        if not isinstance(claim, dict):
            continue
        typ, val = claim.get("typ"), claim.get("val")
        if not isinstance(typ, str) or not isinstance(val, str):
            continue
        if typ == role_typ or typ in ROLE_CLAIMS:
            roles.add(val)
        if not name and (typ == name_typ or typ in NAME_CLAIMS):
            name = val
    return Principal(name=printable(name), roles=frozenset(roles))


def printable(text: str, limit: int = 200) -> str:
    """Caller-supplied text as it may be stored and shown: printable characters only (no control
    characters, no lone surrogates), bounded."""
    return "".join(ch for ch in text if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF)[:limit]


def authorize(require_roles: bool, header: str | None, role: str | None) -> Principal | None:
    """Raise 401 without a principal and 403 without the role, when roles are required."""
    if not require_roles:
        return None  # the header is only trustworthy behind App Service Authentication
    principal = parse_principal(header) if header else None
    if role is None:
        return principal
    if principal is None:
        raise Unauthorized("sign in through App Service Authentication to call this endpoint", code="Unauthenticated")
    if role not in principal.roles:
        raise Forbidden(f"this endpoint needs the app role {role}", code="MissingRole")
    return principal


def principal_name(name_header: str | None, principal_header: str | None) -> str:
    try:
        principal = parse_principal(principal_header)
    except Unauthorized:
        principal = None
    return printable(principal.name if principal and principal.name else (name_header or "")) or "anonymous"
