"""The sweep's binding-repair unit checkpoints like the vault units: pages of links in key order,
each page's bindings read for its links only, and past its budget one continuation (a derived
id, so a redelivered unit does not queue a second) after the last link done."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.clock import utcnow
from shared.model import LinkedCertificate, Operation, OperationKind
from shared.sweep import run_sweep_unit, run_vault_sweep, start_sweep
from tests.fakes.context import Fakes
from tests.service.conftest import HOST, issued, linked_and_bound, upload_version

STALE = "AB" * 20  # a thumbprint a sync that stopped midway left on a binding


def _settled(fakes: Fakes, name: str) -> None:
    """The link was synced long ago (its sync is no longer moving anything)."""
    link = fakes.ctx.links.get(name)
    link.last_synced_at = utcnow() - timedelta(hours=1)
    fakes.ctx.links.save(link)


def _lagging(fakes: Fakes, link: str, app: str) -> None:
    """A sync stopped between the link and this binding: the binding still has an old thumbprint."""
    binding = fakes.ctx.bindings.find(app, HOST)
    assert binding is not None
    binding.thumbprint = STALE
    fakes.ctx.bindings.save(binding)


def _fleet(fakes: Fakes, links: int) -> list[str]:
    """`links` links over scopes rg/rg2 (key order is scope, then name), each bound in two apps;
    one binding of every link lags."""
    cert = issued(fakes, "shared-cert")
    names = [f"link{n:02d}" for n in range(links)]
    for name in names:
        linked_and_bound(fakes, cert, name, apps=(f"{name}-a", f"{name}-b"))
        _settled(fakes, name)
        _lagging(fakes, name, f"{name}-a")
    return names


def _repair_unit(fakes: Fakes, budget: float) -> Operation:
    [unit] = [op for op in start_sweep(fakes.ctx, budget_seconds=budget) if op.target == "bindings"]
    return unit


def _chain(fakes: Fakes, unit: Operation) -> list[dict]:
    results = [run_sweep_unit(fakes.ctx, unit)]
    while "continuation" in results[-1] and len(results) < 50:
        results.append(run_sweep_unit(fakes.ctx, fakes.ctx.operations.get(results[-1]["continuation"])))
    return results


def _thumbprints(fakes: Fakes, name: str) -> set[str]:
    return {b.thumbprint for b in fakes.ctx.bindings.for_link(name)}


def test_a_tiny_budget_splits_the_repair_into_continuations_that_repair_each_binding_once(fakes: Fakes) -> None:
    names = _fleet(fakes, 5)
    moves: list[tuple[str, str]] = []
    fakes.hooks.on("before:bindings.save", lambda b: moves.append((b.app, b.thumbprint)), times=1000)
    results = _chain(fakes, _repair_unit(fakes, budget=0))

    assert len(results) == 5  # one link per unit at a spent budget, each a continuation of the one before
    assert [r["links"] for r in results] == [1] * 5
    assert sum(r["bindingsRepaired"] for r in results) == 5
    assert sorted(app for app, _ in moves) == sorted(f"{name}-a" for name in names)  # each moved once
    for name in names:
        assert _thumbprints(fakes, name) == {fakes.ctx.links.get(name).thumbprint}
    continuations = [op for op in fakes.ctx.operations.list(target="bindings") if op.parameters.get("after")]
    assert sorted(tuple(op.parameters["after"]) for op in continuations) == [("rg", n) for n in names[:4]]


def test_the_repair_reads_links_a_page_at_a_time_and_bindings_for_that_page_only(
    fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _fleet(fakes, 7)
    unit = _repair_unit(fakes, budget=60)  # the timer's part (plan_sweep lists the links for their vaults)
    pages: list[int] = []
    asked: list[list[str]] = []
    following = fakes.ctx.links.following

    def counted(after: tuple[str, str] | None, top: int) -> list[LinkedCertificate]:
        page = following(after, top)
        pages.append(len(page))
        return page

    def never(*_: object) -> None:
        raise AssertionError("the repair read the whole table")

    monkeypatch.setattr(fakes.ctx.links, "following", counted)
    monkeypatch.setattr(fakes.ctx.links, "list", never)
    monkeypatch.setattr(fakes.ctx.bindings, "all", never)
    fakes.hooks.on("before:bindings.for_links", lambda wanted: asked.append(wanted), times=1000)
    monkeypatch.setattr("shared.sweep.REPAIR_PAGE_LINKS", 3)

    results = _chain(fakes, unit)

    assert len(results) == 1 and results[0]["pages"] == 3 and results[0]["bindingsRepaired"] == 7
    assert pages == [3, 3, 1]
    assert [len(wanted) for wanted in asked] == [3, 3, 1]
    for name in names:
        assert _thumbprints(fakes, name) == {fakes.ctx.links.get(name).thumbprint}


@pytest.mark.parametrize("kind", ["bindings", "vault"])
def test_a_redelivered_unit_does_not_queue_a_second_continuation(fakes: Fakes, kind: str) -> None:
    for n in range(3):  # three changed secrets (vault units) and three lagging links (repair)
        cert = issued(fakes, f"cert{n}")
        linked_and_bound(fakes, cert, f"link{n}", apps=(f"app{n}",))
        _settled(fakes, f"link{n}")
        _lagging(fakes, f"link{n}", f"app{n}")
        upload_version(fakes, cert.secret_name)
    units = start_sweep(fakes.ctx, budget_seconds=0)
    [unit] = [op for op in units if (op.target == "bindings") == (kind == "bindings") and op.target != "orphans"]
    before = {op.id for op in fakes.ctx.operations.list(kind=OperationKind.SWEEP.value)}
    queued = len(fakes.queue.messages)

    first = run_sweep_unit(fakes.ctx, unit)
    again = run_sweep_unit(fakes.ctx, unit)  # the message came back: the first delivery's record was lost

    assert "continuation" in first and "continuation" in again
    added = [op for op in fakes.ctx.operations.list(kind=OperationKind.SWEEP.value) if op.id not in before]
    assert [op.id for op in added] == [first["continuation"]] == [again["continuation"]]
    assert len(fakes.queue.messages) - queued <= 2  # at most the same operation enqueued once more


def test_a_link_a_vault_unit_moved_between_the_two_reads_is_not_synced_again(fakes: Fakes) -> None:
    """The repair read the link, then a vault unit synced it and moved its bindings, then the repair
    read the (now newer) bindings: the link looks lagging but is only older as read."""
    cert = issued(fakes, "moving")
    linked_and_bound(fakes, cert, "moving-link", apps=("app1", "app2"))
    _settled(fakes, "moving-link")
    upload_version(fakes, cert.secret_name)
    vault = fakes.ctx.settings.key_vault_url
    reads: list[str] = []

    def vault_unit_runs(*_: object) -> None:
        run_vault_sweep(fakes.ctx, vault, 60)
        fakes.hooks.on("before:vault.get_secret", lambda name, version: reads.append(name), times=1000)

    fakes.hooks.on("before:bindings.for_links", vault_unit_runs)  # after the repair read the link

    [result] = _chain(fakes, _repair_unit(fakes, budget=60))

    assert reads == []  # no second read of a secret the vault unit had just synced
    assert result["bindingsRepaired"] == 0 and result["movedMeanwhile"] == 1
    assert _thumbprints(fakes, "moving-link") == {fakes.ctx.links.get("moving-link").thumbprint}


def test_the_orphan_repair_is_a_unit_of_its_own(fakes: Fakes) -> None:
    cert = issued(fakes, "gone")
    linked_and_bound(fakes, cert, "gone-link")
    fakes.ctx.links.delete(fakes.ctx.links.get("gone-link"))  # the crash case: its binding stayed behind
    [entry] = fakes.ctx.bindings.index_entries()
    fakes.bindings.index[(entry.link, entry.app, entry.hostname)] = entry.__class__(
        entry.link, entry.app, entry.hostname, utcnow() - timedelta(minutes=5), entry.etag
    )
    [unit] = [op for op in start_sweep(fakes.ctx) if op.target == "orphans"]
    assert run_sweep_unit(fakes.ctx, unit)["orphansRemoved"] == 1
    assert fakes.ctx.bindings.find("app1", HOST) is None
