"""Request fields are honoured or refused by name, never dropped: a `slot` on a binding of a link
kept in certsync alone is refused; `version` on the secret reference names that version or 404."""
from __future__ import annotations

import pytest

from shared.errors import BadRequest, NotFound
from shared.export import secret_location
from shared.links import BindingRequest, NewLink, create_link, put_binding
from tests.fakes.context import Fakes
from tests.service.conftest import HOST, answer, issued, upload_version


def test_a_slot_on_a_certsync_only_binding_is_refused_by_name(fakes: Fakes) -> None:
    create_link(fakes.ctx, NewLink(name="shop-link", scope="rg", certificate=issued(fakes, "shop").name))

    refused = answer(lambda: put_binding(fakes.ctx, BindingRequest(app="app1", hostname=HOST, link="shop-link",
                                                                   slot="staging")))

    assert isinstance(refused, BadRequest) and refused.code == "InvalidField" and "slot" in refused.message
    assert fakes.ctx.bindings.find("app1", HOST) is None


def test_the_secret_reference_of_an_older_version(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    upload_version(fakes, "cert-shop")

    older = secret_location(fakes.ctx, "shop", cert.secret_version.upper())
    current = secret_location(fakes.ctx, "shop")

    assert older.version == cert.secret_version and older.version_id == f"{older.secret_id}/{cert.secret_version}"
    assert current.version == cert.secret_version  # the recorded one, as before: no Key Vault call


@pytest.mark.parametrize("version, code", [("0" * 32, "VersionNotFound"), ("latest", "InvalidVersion")])
def test_a_version_the_secret_does_not_have_is_refused(fakes: Fakes, version: str, code: str) -> None:
    issued(fakes, "shop")

    refused = answer(lambda: secret_location(fakes.ctx, "shop", version))

    assert isinstance(refused, (NotFound, BadRequest)) and refused.code == code
