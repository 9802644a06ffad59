"""What certsync says when ARM refuses: ARM's own reason is kept, so a user knows what to change."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.core.exceptions import ARMErrorFormat

from shared.appservice.client import arm_error
from shared.errors import Conflict, NotFound


def _refusal(status: int, code: str, message: str) -> HttpResponseError:
    err = HttpResponseError(message=f"({code}) {message}")
    err.status_code = status
    err.error = ARMErrorFormat({"error": {"code": code, "message": message}})
    return err


@pytest.mark.parametrize(
    ("status", "kind"),
    [(409, Conflict), (412, Conflict), (404, NotFound)],
)
def test_arm_reason_is_part_of_the_error(status: int, kind: type) -> None:
    reason = "Hostname 'shop.example.com' already exists on another app (shop/shop.example.com)."
    err = arm_error(_refusal(status, "Conflict", reason), "Microsoft.Web/sites/hostNameBindings/write", "binding x")

    assert isinstance(err, kind)
    assert reason in str(err)
    assert "binding x" in str(err)
