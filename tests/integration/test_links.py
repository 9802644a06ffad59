"""Linked certificates: names unique across scopes, even under a race."""
from __future__ import annotations

import threading

import pytest

from datetime import timedelta

from shared.clock import utcnow
from shared.errors import Conflict
from shared.links import BindingRequest, NewLink, create_link, delete_link, put_binding
from shared.model import SslBinding
from shared.sweep import run_sweep
from tests.integration.helpers import issued


def test_link_names_are_unique_across_scopes_under_a_race(ctx, unique):
    cert = issued(ctx, f"u-{unique}", [f"u-{unique}.example.com"])
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def create(scope: str) -> None:
        barrier.wait()
        try:
            create_link(ctx, NewLink(name=f"same-{unique}", scope=scope, certificate=cert.name))
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create, args=(f"rg-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["created"]
    assert [l.name for l in ctx.links.list()] == [f"same-{unique}"]

    delete_link(ctx, f"same-{unique}")
    assert ctx.links.find(f"same-{unique}") is None
    again = create_link(ctx, NewLink(name=f"same-{unique}", scope="rg-other", certificate=cert.name))
    assert ctx.links.get(f"same-{unique}").scope == again.scope == "rg-other"


def test_batched_link_writes_are_all_or_nothing_per_partition(ctx, unique):
    cert = issued(ctx, f"b-{unique}", [f"b-{unique}.example.com"])
    names = [f"batch-{unique}-{i}" for i in range(3)]
    for name in names:
        create_link(ctx, NewLink(name=name, scope="rg-batch", certificate=cert.name))
    links = [ctx.links.get(name) for name in names]
    racer = ctx.links.get(names[1])
    racer.last_sync_error = "someone else wrote"
    ctx.links.save(racer)  # our copy of names[1] is now stale

    for link in links:
        link.last_sync_error = "batched"
    assert ctx.links.save_batch(links) == links  # the whole transaction lost: nothing written
    assert [ctx.links.get(n).last_sync_error for n in names] == ["", "someone else wrote", ""]

    fresh = [ctx.links.get(name) for name in names]
    for link in fresh:
        link.last_sync_error = "batched"
    assert ctx.links.save_batch(fresh) == []
    assert {ctx.links.get(n).last_sync_error for n in names} == {"batched"}
    assert [l.etag for l in fresh] == [ctx.links.get(n).etag for n in names]  # new ETags handed back


def test_a_name_row_left_by_a_crash_is_taken_over_once_it_is_old(ctx, unique, monkeypatch):
    import shared.tables as tables
    from datetime import timedelta

    cert = issued(ctx, f"n-{unique}", [f"n-{unique}.example.com"])
    name = f"crashed-{unique}"
    ctx.links.client.create_entity({"PartitionKey": tables.NAME_PARTITION, "RowKey": name, "Scope": "rg-dead"})
    with pytest.raises(Conflict):  # young: a create in progress, not a crash
        create_link(ctx, NewLink(name=name, scope="rg-new", certificate=cert.name))
    monkeypatch.setattr(tables, "ABANDONED_NAME_AFTER", timedelta(0))
    link = create_link(ctx, NewLink(name=name, scope="rg-new", certificate=cert.name))
    assert ctx.links.get(name).scope == link.scope == "rg-new"


def test_bindings_of_many_links_are_found_in_parameterised_chunks(ctx, unique):
    from shared.model import SslBinding

    names = [f"chunk-{unique}-{i:02d}" for i in range(20)]  # more than one 15-term query
    for i, name in enumerate(names):
        ctx.bindings.add(SslBinding(f"app{i % 3}", f"h{i}.{unique}.example.com", name, "AA"))
    ctx.bindings.add(SslBinding("other", f"x.{unique}.example.com", "not-asked-for", "BB"))
    grouped = ctx.bindings.for_links(names + [f"{unique}' or Link ne '"])
    assert [len(grouped[name]) for name in names] == [1] * 20
    assert grouped[f"{unique}' or Link ne '"] == []  # a quote in a name is a value, never syntax


def test_a_binding_left_by_a_crash_after_its_link_was_deleted_is_removed_by_the_sweep(ctx, unique):
    """#11 defect 2, crash case: a binding request wrote its binding after a delete removed the
    link, and died before it could notice and undo it. The sweep finds it through the index."""
    cert = issued(ctx, f"o-{unique}", [f"o-{unique}.example.com", f"*.o-{unique}.example.com"])
    kept = create_link(ctx, NewLink(name=f"kept-{unique}", scope="rg", certificate=cert.name))
    gone = create_link(ctx, NewLink(name=f"gone-{unique}", scope="rg", certificate=cert.name))
    live = put_binding(ctx, BindingRequest(app=f"app-{unique}", hostname=f"www.o-{unique}.example.com", link=kept.name))[0]
    delete_link(ctx, gone.name)
    orphan = ctx.bindings.add(SslBinding(f"app-{unique}", f"api.o-{unique}.example.com", gone.name, gone.thumbprint))
    moved = ctx.bindings.add(SslBinding(f"app-{unique}", f"old.o-{unique}.example.com", gone.name, gone.thumbprint))
    moved.link = kept.name  # rebound to another link: the old index entry is stale
    ctx.bindings.save(moved)

    run_sweep(ctx)  # the entries are young: a request could still be running, nothing is touched
    assert ctx.bindings.find(orphan.app, orphan.hostname) is not None
    report = run_sweep(ctx, now=utcnow() + timedelta(minutes=2))
    assert report.orphans_removed == 1
    assert ctx.bindings.find(orphan.app, orphan.hostname) is None
    assert ctx.bindings.find(live.app, live.hostname) is not None  # live bindings stay
    assert {b.hostname for b in ctx.bindings.for_link(kept.name)} == {live.hostname, moved.hostname}
    assert {e.link for e in ctx.bindings.index_entries() if e.app == f"app-{unique}"} == {kept.name}
