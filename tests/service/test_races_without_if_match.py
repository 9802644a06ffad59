"""A request without If-Match never answers 412: deleting a link or putting a binding while a
sync or another request writes the same rows re-reads, re-checks and tries again; only when
the rows never stop changing does it answer 503 Contended, having changed nothing."""
from __future__ import annotations

import pytest

import shared.tables
from shared.errors import Contended
from shared.links import BindingRequest, NewLink, create_link, delete_binding, delete_link, put_binding
from shared.sync.executor import sync_link
from tests.fakes.context import Fakes
from tests.service.conftest import HOST, answer, issued, linked_and_bound, upload_version


@pytest.fixture(autouse=True)
def _no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared.tables, "RACE_PAUSE_S", 0.0)


def _renewed_and_synced(fakes: Fakes, link: str) -> None:
    """What a sync of the link does after a new version: it writes the link (and its bindings)."""
    upload_version(fakes, fakes.ctx.links.get(link).secret_id.rsplit("/", 1)[-1])
    assert sync_link(fakes.ctx, link).changed


def test_deleting_a_link_that_syncs_keep_writing_succeeds(fakes: Fakes) -> None:
    issued(fakes, "shop")
    create_link(fakes.ctx, NewLink(name="shop-link", scope="rg", certificate="shop"))
    fakes.hooks.on("before:links.delete", lambda *_: _renewed_and_synced(fakes, "shop-link"), times=5)

    deleted = answer(lambda: delete_link(fakes.ctx, "shop-link"))

    assert deleted is None
    assert fakes.ctx.links.find("shop-link") is None


def test_a_link_that_never_stops_changing_answers_contended_and_stays(fakes: Fakes) -> None:
    issued(fakes, "shop")
    create_link(fakes.ctx, NewLink(name="shop-link", scope="rg", certificate="shop"))
    fakes.hooks.on("before:links.delete", lambda *_: _renewed_and_synced(fakes, "shop-link"), times=1000)

    deleted = answer(lambda: delete_link(fakes.ctx, "shop-link"))

    assert isinstance(deleted, Contended) and deleted.status == 503, deleted
    assert fakes.ctx.links.find("shop-link") is not None


def test_rebinding_while_a_sync_moves_the_binding_takes_the_new_link(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-a")
    create_link(fakes.ctx, NewLink(name="shop-b", scope="rg", certificate="shop"))
    _renewed_and_synced(fakes, "shop-a")  # shop-b now lags: a sync of it will move nothing, so:
    fakes.hooks.on("before:bindings.save", lambda *_: _renewed_and_synced(fakes, "shop-a"))

    answered = answer(lambda: put_binding(fakes.ctx, BindingRequest(app="app1", hostname=HOST, link="shop-b")))

    assert isinstance(answered, tuple), answered
    binding, link = fakes.ctx.bindings.find("app1", HOST), fakes.ctx.links.get("shop-b")
    assert binding is not None and binding.link == "shop-b" and binding.thumbprint == link.thumbprint
    assert answered[0].link == "shop-b" and answered[1] is False


def test_binding_a_hostname_another_request_binds_meanwhile_replaces_it(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    for name in ("shop-a", "shop-b"):
        create_link(fakes.ctx, NewLink(name=name, scope="rg", certificate=cert.name))
    other = BindingRequest(app="app1", hostname=HOST, link="shop-a")
    fakes.hooks.on("before:bindings.add", lambda *_: put_binding(fakes.ctx, other))

    answered = answer(lambda: put_binding(fakes.ctx, BindingRequest(app="app1", hostname=HOST, link="shop-b")))

    assert isinstance(answered, tuple), answered
    binding = fakes.ctx.bindings.find("app1", HOST)
    assert binding is not None and binding.link == "shop-b"


def test_deleting_a_binding_a_sync_writes_meanwhile_deletes_it(fakes: Fakes) -> None:
    linked_and_bound(fakes, issued(fakes, "shop"), "shop-link")
    fakes.hooks.on("before:bindings.delete", lambda *_: _renewed_and_synced(fakes, "shop-link"))

    deleted = answer(lambda: delete_binding(fakes.ctx, "app1", HOST))

    assert deleted is None and fakes.ctx.bindings.find("app1", HOST) is None


def test_a_binding_that_never_stops_changing_answers_contended_and_stays(fakes: Fakes) -> None:
    linked_and_bound(fakes, issued(fakes, "shop"), "shop-link")

    def rewrite(*_: object) -> None:
        binding = fakes.ctx.bindings.find("app1", HOST)
        assert binding is not None
        fakes.ctx.bindings.save(binding)

    fakes.hooks.on("before:bindings.delete", rewrite, times=100)
    deleted = answer(lambda: delete_binding(fakes.ctx, "app1", HOST))

    assert isinstance(deleted, Contended) and deleted.status == 503
    assert fakes.ctx.bindings.find("app1", HOST) is not None
