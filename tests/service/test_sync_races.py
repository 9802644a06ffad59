"""Sync vs sync: two syncs of one link race while the secret gets newer versions; the link and
its bindings never move backwards, and each sync's answer names what the link holds."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.model import LinkedCertificate
from shared.sync.executor import LinkSyncResult, sync_link, sync_links_of_secret
from tests.fakes.clock import TickingClock
from tests.fakes.context import Fakes, fake_context
from tests.service.conftest import HOST, issued, linked_and_bound, upload_version


def _a_second_sync_runs_at(fakes: Fakes, point: str, results: list) -> None:
    """At `point` of the first sync: a newer version lands and a second sync brings the link to it."""

    def second(*_: object) -> None:
        version, thumbprint = upload_version(fakes, "cert-shop")
        results.append((version, thumbprint, sync_link(fakes.ctx, "shop-link")))

    fakes.hooks.on(point, second)


def _assert_at_newest(fakes: Fakes, thumbprint: str, version: str) -> None:
    link = fakes.ctx.links.get("shop-link")
    assert (link.thumbprint, link.version) == (thumbprint, version)
    assert {b.thumbprint for b in fakes.ctx.bindings.for_link("shop-link")} == {thumbprint}


def _setup(fakes: Fakes) -> tuple[str, str]:
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link", apps=("app1", "app2"))
    return upload_version(fakes, "cert-shop")[1], cert.thumbprint


@pytest.mark.parametrize("point", ["before:links.save", "before:bindings.save"])
def test_a_sync_that_read_an_older_version_does_not_move_anything_back(fakes: Fakes, point: str) -> None:
    middle, first_thumbprint = _setup(fakes)
    second: list = []
    _a_second_sync_runs_at(fakes, point, second)

    first = sync_link(fakes.ctx, "shop-link")

    [(newest_version, newest, second_result)] = second
    _assert_at_newest(fakes, newest, newest_version.version)
    assert second_result.thumbprint == newest
    # The paused sync answers with what it wrote (the middle version, before the second sync
    # moved on) or, when its link write lost, with what the link holds now: both were true in turn.
    assert first.thumbprint == (middle if point == "before:bindings.save" else newest)
    assert first.previous_thumbprint == first_thumbprint != middle


def test_batched_sync_that_loses_its_transaction_does_not_move_the_link_back(fakes: Fakes) -> None:
    _setup(fakes)
    second: list = []
    _a_second_sync_runs_at(fakes, "before:links.save_batch", second)

    outcome = sync_links_of_secret(fakes.ctx, fakes.ctx.links.for_secret(fakes.ctx.links.get("shop-link").secret_id))

    [(newest_version, newest, _)] = second
    _assert_at_newest(fakes, newest, newest_version.version)
    assert outcome.failures == {} and outcome.links_synced == 1


def test_versions_written_in_the_same_second_do_not_move_the_link_back() -> None:
    """Key Vault's "updated" has whole seconds: two versions of one second cannot be ordered by
    it, so a sync that read the older one must read the secret again rather than write it."""
    fakes = fake_context(vault_clock=TickingClock(timedelta(0)))
    _setup(fakes)
    second: list = []
    _a_second_sync_runs_at(fakes, "before:links.save", second)

    first = sync_link(fakes.ctx, "shop-link")

    [(newest_version, newest, _)] = second
    _assert_at_newest(fakes, newest, newest_version.version)
    assert first.thumbprint == newest


def test_two_syncs_of_an_unchanged_link_write_nothing(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link")
    before: LinkedCertificate = fakes.ctx.links.get("shop-link")
    fakes.hooks.calls.clear()
    results: list[LinkSyncResult] = []
    fakes.hooks.on("before:bindings.for_link", lambda *_: results.append(sync_link(fakes.ctx, "shop-link")))
    results.append(sync_link(fakes.ctx, "shop-link"))
    assert [r.changed for r in results] == [False, False]
    assert fakes.ctx.links.get("shop-link").etag == before.etag
    assert fakes.hooks.count("before:links.save") == 0
    assert fakes.ctx.bindings.find("app1", HOST) is not None
