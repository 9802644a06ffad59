"""App Service Authentication principal parsing and role checks."""
from __future__ import annotations

import base64
import json

import pytest

from shared.errors import Forbidden, Unauthorized
from shared.principal import EXPORT, READ, authorize, parse_principal


def header(roles: list[str], name: str = "ada@example.com") -> str:
    claims = [{"typ": "roles", "val": r} for r in roles] + [{"typ": "name", "val": name}]
    body = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": claims}
    return base64.b64encode(json.dumps(body).encode()).decode()


def test_parse_principal_reads_name_and_roles():
    principal = parse_principal(header([READ, EXPORT]))
    assert principal.name == "ada@example.com"
    assert principal.roles == {READ, EXPORT}


@pytest.mark.parametrize(
    "require,hdr,role,error",
    [
        (False, None, EXPORT, None),  # roles off: anyone with the function key
        (False, "not base64 json!", READ, None),  # roles off: the header is not even read
        (True, None, READ, Unauthorized),
        (True, header([READ]), EXPORT, Forbidden),
        (True, header([EXPORT]), EXPORT, None),
        (True, "not base64 json!", READ, Unauthorized),
        (True, header([]), None, None),  # endpoints without a role (health)
    ],
)
def test_authorize(require, hdr, role, error):
    if error:
        with pytest.raises(error):
            authorize(require, hdr, role)
    else:
        authorize(require, hdr, role)
