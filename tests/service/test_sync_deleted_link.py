"""A certificate sync during which one of its links is deleted: the deleted link is skipped and
named in the result, every remaining link syncs, and the operation succeeds."""
from __future__ import annotations

from shared.links import NewLink, create_link, delete_link
from shared.model import OperationStatus
from shared.sync.handlers import start_certificate_sync
from tests.fakes.context import Fakes, drain
from tests.service.conftest import issued, linked_and_bound, upload_version


def test_a_link_deleted_during_a_certificate_sync_is_skipped_not_failed(fakes: Fakes) -> None:
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-a")
    create_link(fakes.ctx, NewLink(name="shop-d", scope="rg", certificate="shop"))
    _, newest = upload_version(fakes, cert.secret_name)
    fakes.hooks.on("before:links.save_batch", lambda *_: delete_link(fakes.ctx, "shop-d"))

    op = start_certificate_sync(fakes.ctx, "shop")
    drain(fakes)

    done = fakes.ctx.operations.get(op.id)
    assert done.status is OperationStatus.SUCCEEDED, (done.error_code, done.error_message)
    assert done.result["linksDeleted"] == ["shop-d"] and done.result["failures"] == {}
    assert done.result["linksSynced"] == 1
    assert fakes.ctx.links.get("shop-a").thumbprint == newest
    assert fakes.ctx.links.find("shop-d") is None
