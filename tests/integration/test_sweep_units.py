"""The sweep as units on the operations queue (what the sync_sweep timer queues when the app
runs on many instances): one unit per vault plus the binding repair, each an operation any
instance can take, a unit past its budget continued by a queued continuation."""
from __future__ import annotations

from shared.model import OperationKind, OperationStatus
from shared.sweep import start_sweep
from tests.integration.helpers import ENGINE, issued, linked_and_bound, upload_new_version

HOSTS = ["www.contoso.test", "*.contoso.test"]


def test_units_split_by_vault_and_continue_past_their_budget(ctx, secret_client, unique):
    fresh = {}
    for name in (f"contoso-{unique}", f"fabrikam-{unique}"):
        cert = issued(ctx, name, HOSTS)
        linked_and_bound(ctx, cert, f"{name}-link", [(f"app-{name}", "www.contoso.test")])
        fresh[f"{name}-link"] = upload_new_version(secret_client, cert.secret_name, HOSTS, ctx).thumbprint

    units = start_sweep(ctx, budget_seconds=0)  # a budget spent at once: one secret per unit
    assert [(op.kind, op.target) for op in units] == [
        (OperationKind.SWEEP, ctx.settings.key_vault_url), (OperationKind.SWEEP, "bindings")
    ]
    first = ENGINE.run(ctx, units[0].id)
    assert first is not None and first.status is OperationStatus.SUCCEEDED
    assert first.result["changedSecrets"] == 2 and first.result["unfinishedSecrets"] == 1
    moved_first = {link.name for link in ctx.links.list() if link.thumbprint == fresh.get(link.name)}
    assert len(moved_first) == 1

    chain = [first]
    while "continuation" in chain[-1].result and len(chain) < 10:  # each one gets at least one secret further
        step = ENGINE.run(ctx, chain[-1].result["continuation"])
        assert step is not None and step.status is OperationStatus.SUCCEEDED
        chain.append(step)
    assert len(chain) == 2 and chain[-1].result["unfinishedSecrets"] == 0  # one secret per unit, in id order
    repair = ENGINE.run(ctx, units[1].id)
    assert repair is not None and repair.status is OperationStatus.SUCCEEDED

    for link_name, thumbprint in fresh.items():
        assert ctx.links.get(link_name).thumbprint == thumbprint
        assert {b.thumbprint for b in ctx.bindings.for_link(link_name)} == {thumbprint}
