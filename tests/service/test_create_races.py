"""Create vs create, and a binding created while its link is synced: one of two creates wins and
the other is told 409; a binding added during a sync ends at the link's thumbprint, or is refused
when the new version does not cover its hostname."""
from __future__ import annotations

import pytest

from shared.errors import CertsyncError, Conflict
from shared.lifecycle import NewCertificate, create_certificate
from shared.links import BindingRequest, NewLink, create_link, put_binding
from shared.model import Operation
from shared.pki import KeyType
from shared.sync.executor import sync_link
from tests.fakes.context import Fakes
from tests.service.conftest import HOST, answer, issued, linked_and_bound, upload_version


def test_two_creates_of_one_certificate_one_wins(fakes: Fakes) -> None:
    spec = NewCertificate(name="shop", hostnames=(HOST,), key_type=KeyType.EC256)
    other = NewCertificate(name="shop", hostnames=("api.example.com",), key_type=KeyType.EC256)
    second: list = []

    def racing(*_: object) -> None:
        second.append(answer(lambda: create_certificate(fakes.ctx, spec)))

    fakes.hooks.on("before:certificates.add", racing)

    first = answer(lambda: create_certificate(fakes.ctx, other))

    assert isinstance(second[0], Operation)
    assert isinstance(first, Conflict) and first.code == "CertificateExists"
    assert fakes.ctx.certificates.get("shop").active_operation == second[0].id
    assert [op.id for op in fakes.ctx.operations.list(target="shop")] == [second[0].id]  # the loser's record is gone
    assert len(fakes.queue.messages) == 1


def test_two_creates_of_the_same_request_both_answer_with_the_one_issuance(fakes: Fakes) -> None:
    spec = NewCertificate(name="shop", hostnames=(HOST,), key_type=KeyType.EC256)
    second: list = []
    fakes.hooks.on("before:certificates.add", lambda *_: second.append(create_certificate(fakes.ctx, spec)))

    first = create_certificate(fakes.ctx, spec)

    assert first.id == second[0].id == fakes.ctx.certificates.get("shop").active_operation
    assert [op.id for op in fakes.ctx.operations.list(target="shop")] == [first.id]


@pytest.mark.parametrize("point", ["before:links.add", "before:vault.get_secret"])
def test_two_links_of_one_name_in_two_scopes_one_wins(fakes: Fakes, point: str) -> None:
    issued(fakes, "shop")
    second: list = []

    def other_scope(*_: object) -> None:
        spec = NewLink(name="shop-link", scope="rg2", certificate="shop")
        second.append(answer(lambda: create_link(fakes.ctx, spec)))

    fakes.hooks.on(point, other_scope)
    first = answer(lambda: create_link(fakes.ctx, NewLink(name="shop-link", scope="rg1", certificate="shop")))

    assert isinstance(first, Conflict) and first.code == "LinkExists"
    assert not isinstance(second[0], CertsyncError)
    assert [(link.scope, link.name) for link in fakes.ctx.links.list()] == [("rg2", "shop-link")]


def test_a_binding_added_while_the_link_is_synced_ends_at_the_new_version(fakes: Fakes) -> None:
    cert = issued(fakes, "shop", (HOST, "api.example.com"))
    linked_and_bound(fakes, cert, "shop-link")
    newest = upload_version(fakes, "cert-shop", (HOST, "api.example.com"))[1]
    bound: list = []
    request = BindingRequest(app="app2", hostname="api.example.com", link="shop-link")
    fakes.hooks.on("before:links.save", lambda *_: bound.append(answer(lambda: put_binding(fakes.ctx, request))))

    result = sync_link(fakes.ctx, "shop-link")

    assert isinstance(bound[0], tuple)  # the binding was accepted (at the version the link held then)
    assert result.thumbprint == newest
    served = {(b.app, b.thumbprint) for b in fakes.ctx.bindings.for_link("shop-link")}
    assert served == {("app1", newest), ("app2", newest)}


def test_a_binding_the_new_version_does_not_cover_stops_the_sync(fakes: Fakes) -> None:
    """The sync read the bindings before this one existed; it must not move the link to a
    version that would leave the new binding serving a certificate without its hostname."""
    cert = issued(fakes, "shop", (HOST, "api.example.com"))
    linked_and_bound(fakes, cert, "shop-link")
    upload_version(fakes, "cert-shop", (HOST,))  # the new version drops api.example.com
    request = BindingRequest(app="app2", hostname="api.example.com", link="shop-link")
    fakes.hooks.on("before:links.save", lambda *_: put_binding(fakes.ctx, request))

    with pytest.raises(CertsyncError) as caught:
        sync_link(fakes.ctx, "shop-link")

    assert caught.value.code == "HostnameNotCovered"
    link = fakes.ctx.links.get("shop-link")
    assert link.thumbprint == cert.thumbprint and link.last_sync_error.startswith("HostnameNotCovered")
    assert {b.thumbprint for b in fakes.ctx.bindings.for_link("shop-link")} == {cert.thumbprint}
