"""Linked certificates: names unique across scopes, even under a race."""
from __future__ import annotations

import threading

from shared.errors import Conflict
from shared.links import NewLink, create_link, delete_link
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
