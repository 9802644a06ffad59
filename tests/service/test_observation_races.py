"""The recorded read of a secret's current version under races: a paused reader never records
an older version over a newer one, never fails its answer, and the list agrees afterwards."""
from __future__ import annotations

from shared.errors import DependencyError
from shared.overview import certificate_overview, certificate_summary
from shared.sync.executor import sync_link
from shared.sync.planner import LinkSyncState
from tests.fakes.context import Fakes
from tests.service.conftest import issued, linked_and_bound, upload_version


def _fleet(fakes: Fakes) -> str:
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link")
    return cert.thumbprint


def _list_count(fakes: Fakes) -> int:
    return certificate_summary(fakes.ctx, fakes.ctx.certificates.get("shop")).out_of_sync_links


def test_a_reader_paused_before_its_record_never_overwrites_a_newer_one(fakes: Fakes) -> None:
    held = _fleet(fakes)
    upload_version(fakes, "cert-shop")
    newest: list[str] = []

    def meanwhile(*_: object) -> None:  # the first overview read v2; v3 lands and a second overview records it
        newest.append(upload_version(fakes, "cert-shop")[1])
        certificate_overview(fakes.ctx, "shop")

    fakes.hooks.on("before:certificates.save", meanwhile)
    paused = certificate_overview(fakes.ctx, "shop")

    recorded = fakes.ctx.certificates.get("shop")
    assert recorded.observed_thumbprint == newest[0]  # the paused one lost its ETag, re-read, and dropped
    [state] = paused.links
    assert state.link.thumbprint == held and state.state is LinkSyncState.BEHIND
    assert state.newest_thumbprint == newest[0]  # what is recorded by the time it answers
    assert _list_count(fakes) == 1


def test_a_table_failure_while_recording_does_not_fail_the_overview(fakes: Fakes) -> None:
    held = _fleet(fakes)
    _, current = upload_version(fakes, "cert-shop")

    def down(*_: object) -> None:
        raise DependencyError("Table Storage failed while updating certificate shop: ServiceRequestError")

    fakes.hooks.on("before:certificates.save", down)
    overview = certificate_overview(fakes.ctx, "shop")
    [state] = overview.links
    assert overview.current_error is None and overview.current_thumbprint == current
    assert (state.link.thumbprint, state.newest_thumbprint, state.state) == (held, current, LinkSyncState.BEHIND)
    assert fakes.ctx.certificates.get("shop").observed_version == ""  # not recorded: the next read records it
    certificate_overview(fakes.ctx, "shop")
    assert fakes.ctx.certificates.get("shop").observed_thumbprint == current


def test_a_sync_records_what_it_read_for_the_other_links_of_the_secret(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link")
    linked_and_bound(fakes, cert, "shop-other", apps=())
    _, current = upload_version(fakes, "cert-shop")
    sync_link(fakes.ctx, "shop-link")  # one link synced by hand; the other one has not moved
    assert fakes.ctx.certificates.get("shop").observed_thumbprint == current
    assert _list_count(fakes) == 1
    reads = fakes.hooks.count("before:certificates.get")
    sync_link(fakes.ctx, "shop-link")  # the version its link already records: no read of the certificate
    assert fakes.hooks.count("before:certificates.get") == reads
