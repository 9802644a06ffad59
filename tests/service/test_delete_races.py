"""Delete vs create: deleting a certificate and linking it race; either the delete is refused
(409, the link stays) or the link is refused (the certificate is gone), never a link left
pointing at a deleted certificate. The same for deleting a link while binding to it."""
from __future__ import annotations

import pytest

from shared.errors import CertsyncError, Conflict
from shared.lifecycle import delete_certificate
from shared.links import BindingRequest, NewLink, create_link, delete_link, put_binding
from shared.model import LinkedCertificate
from tests.fakes.context import Fakes
from tests.service.conftest import HOST, answer, issued


def _create_link(fakes: Fakes) -> LinkedCertificate | CertsyncError:
    return answer(lambda: create_link(fakes.ctx, NewLink(name="shop-link", scope="rg", certificate="shop")))


def _assert_exclusive(fakes: Fakes, deleted: object, created: object) -> None:
    cert, link = fakes.ctx.certificates.find("shop"), fakes.ctx.links.find("shop-link")
    if cert is None:
        assert deleted is None and isinstance(created, CertsyncError), (deleted, created)
        assert link is None, "a link was left pointing at a deleted certificate"
    else:
        assert isinstance(deleted, Conflict) and deleted.code == "CertificateInUse", (deleted, created)
        assert isinstance(created, LinkedCertificate) and link is not None


@pytest.mark.parametrize("point", ["before:certificates.delete", "before:links.for_secret"])
def test_a_link_created_while_the_certificate_is_deleted(fakes: Fakes, point: str) -> None:
    """The delete has read the certificate (and, at the later point, found no links) when the link is created."""
    issued(fakes, "shop")
    created: list = []
    fakes.hooks.on(point, lambda *_: created.append(_create_link(fakes)))

    deleted = answer(lambda: delete_certificate(fakes.ctx, "shop"))

    _assert_exclusive(fakes, deleted, created[0])


@pytest.mark.parametrize("point", ["before:links.add", "before:links.find"])
def test_the_certificate_deleted_while_a_link_is_created(fakes: Fakes, point: str) -> None:
    """The create has found the certificate issued when the delete runs."""
    issued(fakes, "shop")
    deleted: list = []
    fakes.hooks.on(point, lambda *_: deleted.append(answer(lambda: delete_certificate(fakes.ctx, "shop"))))

    created = _create_link(fakes)

    _assert_exclusive(fakes, deleted[0], created)


@pytest.mark.parametrize("point", ["before:links.delete", "after:links.delete"])
def test_a_binding_created_while_its_link_is_deleted(fakes: Fakes, point: str) -> None:
    issued(fakes, "shop")
    create_link(fakes.ctx, NewLink(name="shop-link", scope="rg", certificate="shop"))
    bound: list = []
    request = BindingRequest(app="app1", hostname=HOST, link="shop-link")
    fakes.hooks.on(point, lambda *_: bound.append(answer(lambda: put_binding(fakes.ctx, request))))

    deleted = answer(lambda: delete_link(fakes.ctx, "shop-link"))

    link, binding = fakes.ctx.links.find("shop-link"), fakes.ctx.bindings.find("app1", HOST)
    if link is None:
        assert deleted is None and isinstance(bound[0], CertsyncError) and binding is None
    else:
        assert isinstance(deleted, Conflict) and deleted.code == "LinkInUse"
        assert isinstance(bound[0], tuple) and binding is not None and binding.thumbprint == link.thumbprint
