"""The sweep as units on the operations queue (what the sync_sweep timer queues when the app
runs on many instances): one unit per vault plus the binding repair and the orphan repair, each
an operation any instance can take, a unit past its budget continued by a queued continuation."""
from __future__ import annotations

from datetime import timedelta

from shared.clock import utcnow
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
        (OperationKind.SWEEP, ctx.settings.key_vault_url), (OperationKind.SWEEP, "bindings"),
        (OperationKind.SWEEP, "orphans"),
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


def test_the_binding_repair_continues_page_by_page_after_the_last_link_done(ctx, unique):
    """Links in key order from a range query on Azurite; a spent budget: one link per unit."""
    cert = issued(ctx, f"lag-{unique}", HOSTS)
    names = [f"lag-{unique}-{n}" for n in range(3)]
    for name in names:
        linked_and_bound(ctx, cert, name, [(f"app-{name}", "www.contoso.test")])
        link = ctx.links.get(name)
        link.last_synced_at = utcnow() - timedelta(hours=1)  # its sync is long over
        ctx.links.save(link)
        [binding] = ctx.bindings.for_link(name)
        binding.thumbprint = "AB" * 20  # a sync stopped between the link and this binding
        ctx.bindings.save(binding)

    [repair] = [op for op in start_sweep(ctx, budget_seconds=0) if op.target == "bindings"]
    chain = [ENGINE.run(ctx, repair.id)]
    while chain[-1] is not None and "continuation" in chain[-1].result and len(chain) < 10:
        chain.append(ENGINE.run(ctx, chain[-1].result["continuation"]))
    assert all(op is not None and op.status is OperationStatus.SUCCEEDED for op in chain)
    assert [op.result["bindingsRepaired"] for op in chain if op is not None] == [1, 1, 1]
    assert [op.parameters.get("after") for op in chain if op is not None] == [None, ["rg", names[0]], ["rg", names[1]]]
    for name in names:
        assert {b.thumbprint for b in ctx.bindings.for_link(name)} == {cert.thumbprint}
