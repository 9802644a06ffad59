"""The Table Storage ports: ETag-checked writes, the errors callers rely on, query results."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.errors import Conflict, NotFound, PreconditionFailed
from shared.model import (
    Certificate,
    CertificateStatus,
    LinkedCertificate,
    Operation,
    OperationKind,
    OperationStatus,
    RevocationList,
    RevokedSerial,
    RevokedVersion,
    SslBinding,
    SslState,
)
from tests.contract.conftest import Side

T0 = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def cert(name: str) -> Certificate:
    return Certificate(
        name=name,
        hostnames=("a.example.com", "*.example.com"),
        key_type="EC256",
        issuer="local",
        status=CertificateStatus.ISSUED,
        validity_days=90,
        secret_name=f"cert-{name}",
        secret_version="0" * 32,
        not_after=T0,
        renew_before_days=10,
        active_operation="op-1",
        created_at=T0,
        revoked=(RevokedVersion("1" * 32, "AB" * 20, "0A1B", "keyCompromise", T0, "op-0"),),
    )


def link(name: str, scope: str = "rg", secret: str = "https://v.vault.azure.net/secrets/s") -> LinkedCertificate:
    return LinkedCertificate(
        name=name, scope=scope, secret_id=secret, thumbprint="AB" * 20, version="1" * 32,
        hostnames=("a.example.com",), secret_updated_on=T0,
    )


def binding(app: str, host: str, link_name: str, thumbprint: str = "AB" * 20) -> SslBinding:
    return SslBinding(
        app=app, hostname=host, link=link_name, thumbprint=thumbprint, ssl_state=SslState.IP, updated_at=T0
    )


# --- certificates ------------------------------------------------------------------------


def test_certificate_round_trip_keeps_every_field(side: Side, unique: str) -> None:
    stored = side.ctx.certificates.add(cert(f"c{unique}"))
    assert stored.etag
    read = side.ctx.certificates.get(f"c{unique}")
    assert read == cert(f"c{unique}")
    assert read.etag == stored.etag


def test_certificate_insert_twice_conflicts(side: Side, unique: str) -> None:
    side.ctx.certificates.add(cert(f"c{unique}"))
    with pytest.raises(Conflict) as caught:
        side.ctx.certificates.add(cert(f"c{unique}"))
    assert caught.value.code == "AlreadyExists"


def test_certificate_save_needs_the_current_etag(side: Side, unique: str) -> None:
    store = side.ctx.certificates
    store.add(cert(f"c{unique}"))
    first, second = store.get(f"c{unique}"), store.get(f"c{unique}")
    first.failure_count = 1
    old = first.etag
    store.save(first)
    assert first.etag and first.etag != old
    second.failure_count = 2
    with pytest.raises(PreconditionFailed) as caught:
        store.save(second)
    assert caught.value.code == "ConcurrentChange"
    assert store.get(f"c{unique}").failure_count == 1


def test_certificate_save_of_a_deleted_row_fails(side: Side, unique: str) -> None:
    store = side.ctx.certificates
    row = store.add(cert(f"c{unique}"))
    store.delete(store.get(f"c{unique}"))
    with pytest.raises(PreconditionFailed):
        store.save(row)


def test_certificate_missing_is_not_found(side: Side, unique: str) -> None:
    with pytest.raises(NotFound) as caught:
        side.ctx.certificates.get(f"missing{unique}")
    assert caught.value.code == "CertificateNotFound"
    assert side.ctx.certificates.find(f"missing{unique}") is None


def test_certificate_delete_is_etag_checked_and_idempotent(side: Side, unique: str) -> None:
    store = side.ctx.certificates
    stale = store.add(cert(f"c{unique}"))
    fresh = store.get(f"c{unique}")
    store.save(fresh)
    with pytest.raises(PreconditionFailed):
        store.delete(stale)
    store.delete(fresh)
    assert store.find(f"c{unique}") is None
    store.delete(fresh)  # already gone: nothing to do


def test_certificates_list_in_name_order(side: Side, unique: str) -> None:
    for name in (f"b{unique}", f"a{unique}", f"c{unique}"):
        side.ctx.certificates.add(cert(name))
    names = [c.name for c in side.ctx.certificates.list() if c.name.endswith(unique)]
    assert names == [f"a{unique}", f"b{unique}", f"c{unique}"]


# --- links -------------------------------------------------------------------------------


def test_link_round_trip_and_lookups(side: Side, unique: str) -> None:
    links = side.ctx.links
    added = links.add(link(f"l{unique}", scope=f"rg{unique}"))
    assert added.etag
    assert links.get(f"l{unique}") == link(f"l{unique}", scope=f"rg{unique}")
    assert links.find(f"l{unique}") == link(f"l{unique}", scope=f"rg{unique}")
    assert links.reread(added).etag == added.etag
    with pytest.raises(NotFound) as caught:
        links.get(f"missing{unique}")
    assert caught.value.code == "LinkNotFound"
    assert links.find(f"missing{unique}") is None
    with pytest.raises(NotFound) as reread:
        links.reread(link(f"l{unique}", scope=f"other{unique}"))
    assert reread.value.code == "LinkNotFound"


def test_link_names_are_unique_across_scopes(side: Side, unique: str) -> None:
    links = side.ctx.links
    first = links.add(link(f"l{unique}", scope=f"rg{unique}"))
    with pytest.raises(Conflict) as caught:
        links.add(link(f"l{unique}", scope=f"other{unique}"))
    assert caught.value.code == "AlreadyExists"
    links.delete(first)
    links.add(link(f"l{unique}", scope=f"other{unique}"))  # the name is free again
    assert links.get(f"l{unique}").scope == f"other{unique}"


def test_link_save_and_delete_need_the_current_etag(side: Side, unique: str) -> None:
    links = side.ctx.links
    stale = links.add(link(f"l{unique}"))
    fresh = links.get(f"l{unique}")
    fresh.thumbprint = "CD" * 20
    links.save(fresh)
    stale.thumbprint = "EF" * 20
    with pytest.raises(PreconditionFailed):
        links.save(stale)
    with pytest.raises(PreconditionFailed):
        links.delete(stale)
    assert links.get(f"l{unique}").thumbprint == "CD" * 20


def test_links_for_secret_and_list(side: Side, unique: str) -> None:
    mine, other = f"https://v.vault.azure.net/secrets/s{unique}", f"https://v.vault.azure.net/secrets/t{unique}"
    side.ctx.links.add(link(f"b{unique}", scope=f"rg2{unique}", secret=mine))
    side.ctx.links.add(link(f"a{unique}", scope=f"rg1{unique}", secret=mine))
    side.ctx.links.add(link(f"c{unique}", scope=f"rg1{unique}", secret=other))
    assert sorted(x.name for x in side.ctx.links.for_secret(mine)) == [f"a{unique}", f"b{unique}"]
    listed = [(x.scope, x.name) for x in side.ctx.links.list() if x.name.endswith(unique)]
    assert listed == [(f"rg1{unique}", f"a{unique}"), (f"rg1{unique}", f"c{unique}"), (f"rg2{unique}", f"b{unique}")]


def test_links_following_a_key_come_in_key_order_a_page_at_a_time(side: Side, unique: str) -> None:
    """The binding repair's pages: the rest of a scope after a name, then the scopes above it;
    index rows (names, secrets) never come back as links."""
    keys = [("rg1", "b"), ("rg1", "d"), ("rg2", "a"), ("rg2", "c"), ("rg3", "e")]  # names are unique across scopes
    for scope, name in reversed(keys):
        side.ctx.links.add(link(f"{name}{unique}", scope=f"{scope}{unique}"))
    mine = [(f"{scope}{unique}", f"{name}{unique}") for scope, name in keys]
    links = side.ctx.links
    assert [(x.scope, x.name) for x in links.following(None, 10)] == mine
    assert [(x.scope, x.name) for x in links.following(None, 2)] == mine[:2]
    assert [(x.scope, x.name) for x in links.following(mine[0], 2)] == mine[1:3]  # across a scope
    assert [(x.scope, x.name) for x in links.following(mine[1], 2)] == mine[2:4]  # from the next scope
    assert [(x.scope, x.name) for x in links.following((f"rg2{unique}", f"b{unique}"), 10)] == mine[3:]
    assert links.following(mine[-1], 10) == []
    pages, after = [], None
    while page := links.following(after, 2):
        pages.append([x.name for x in page])
        after = (page[-1].scope, page[-1].name)
    assert [len(p) for p in pages] == [2, 2, 1] and sum(pages, []) == [name for _, name in mine]


def test_links_in_vault_are_those_of_its_secrets_only(side: Side, unique: str) -> None:
    vault, neighbour = f"https://v{unique}.vault.azure.net", f"https://v{unique}0.vault.azure.net"
    side.ctx.links.add(link(f"a{unique}", secret=f"{vault}/secrets/s1"))
    side.ctx.links.add(link(f"b{unique}", secret=f"{vault}/secrets/s2"))
    side.ctx.links.add(link(f"c{unique}", secret=f"{neighbour}/secrets/s1"))  # a longer host, same prefix
    assert sorted(x.name for x in side.ctx.links.in_vault(vault)) == [f"a{unique}", f"b{unique}"]


def test_link_batch_is_all_or_nothing_per_partition(side: Side, unique: str) -> None:
    links = side.ctx.links
    a, b = links.add(link(f"a{unique}", scope=f"p{unique}")), links.add(link(f"b{unique}", scope=f"p{unique}"))
    c = links.add(link(f"c{unique}", scope=f"q{unique}"))
    links.save(links.get(f"b{unique}"))  # b's copy is now stale
    for item in (a, b, c):
        item.thumbprint = "CD" * 20
    old_c = c.etag
    lost = links.save_batch([a, b, c])
    assert [x.name for x in lost] == [f"a{unique}", f"b{unique}"]
    assert links.get(f"a{unique}").thumbprint == "AB" * 20  # nothing of the lost transaction was written
    assert links.get(f"c{unique}").thumbprint == "CD" * 20
    assert c.etag != old_c and links.get(f"c{unique}").etag == c.etag


# --- bindings ----------------------------------------------------------------------------


def test_binding_round_trip_and_queries(side: Side, unique: str) -> None:
    bindings = side.ctx.bindings
    bindings.add(binding(f"app{unique}", "a.example.com", f"l{unique}"))
    bindings.add(binding(f"app{unique}", "b.example.com", f"m{unique}"))
    bindings.add(binding(f"other{unique}", "a.example.com", f"l{unique}"))
    assert bindings.find(f"app{unique}", "a.example.com") == binding(f"app{unique}", "a.example.com", f"l{unique}")
    assert bindings.find(f"app{unique}", "c.example.com") is None
    assert [(b.app, b.hostname) for b in bindings.for_link(f"l{unique}")] == [
        (f"app{unique}", "a.example.com"),
        (f"other{unique}", "a.example.com"),
    ]
    assert [b.hostname for b in bindings.for_app(f"app{unique}")] == ["a.example.com", "b.example.com"]
    grouped = bindings.for_links([f"l{unique}", f"m{unique}", f"none{unique}"])
    assert {k: len(v) for k, v in grouped.items()} == {f"l{unique}": 2, f"m{unique}": 1, f"none{unique}": 0}
    assert {b.app for b in bindings.all()} >= {f"app{unique}", f"other{unique}"}


def test_binding_insert_twice_conflicts_and_writes_are_etag_checked(side: Side, unique: str) -> None:
    bindings = side.ctx.bindings
    stale = bindings.add(binding(f"app{unique}", "a.example.com", f"l{unique}"))
    with pytest.raises(Conflict) as caught:
        bindings.add(binding(f"app{unique}", "a.example.com", f"l{unique}"))
    assert caught.value.code == "AlreadyExists"
    fresh = bindings.find(f"app{unique}", "a.example.com")
    assert fresh is not None
    fresh.thumbprint = "CD" * 20
    bindings.save(fresh)
    with pytest.raises(PreconditionFailed):
        bindings.save(stale)
    with pytest.raises(PreconditionFailed):
        bindings.delete(stale)
    bindings.delete(fresh)
    assert bindings.find(f"app{unique}", "a.example.com") is None


def test_binding_batch_loses_a_transaction_with_a_stale_row(side: Side, unique: str) -> None:
    bindings = side.ctx.bindings
    one = bindings.add(binding(f"app{unique}", "a.example.com", f"l{unique}"))
    two = bindings.add(binding(f"app{unique}", "b.example.com", f"l{unique}"))
    gone = binding(f"app{unique}", "c.example.com", f"l{unique}")
    gone.etag = two.etag  # a row that does not exist cannot be updated
    one.thumbprint = two.thumbprint = gone.thumbprint = "CD" * 20
    lost = bindings.save_batch([one, two, gone])
    assert len(lost) == 3
    assert {b.thumbprint for b in bindings.for_app(f"app{unique}")} == {"AB" * 20}
    assert bindings.save_batch([bindings.find(f"app{unique}", "a.example.com")]) == []  # type: ignore[list-item]


# --- operations --------------------------------------------------------------------------


def operation(op_id: str, target: str, kind: OperationKind = OperationKind.RENEW) -> Operation:
    return Operation(
        id=op_id, kind=kind, target=target, created_at=T0, updated_at=T0,
        parameters={"keyType": "EC256"}, requested_by="alice",
    )


def test_operation_round_trip_and_list(side: Side, unique: str) -> None:
    ops = side.ctx.operations
    ops.add(operation(f"2-{unique}", f"t{unique}"))
    ops.add(operation(f"1-{unique}", f"t{unique}", OperationKind.REKEY))
    ops.add(operation(f"3-{unique}", f"u{unique}"))
    read = ops.get(f"2-{unique}")
    assert read == operation(f"2-{unique}", f"t{unique}")
    assert read.final_attempt is True  # per delivery, never stored
    assert [o.id for o in ops.list(target=f"t{unique}")] == [f"1-{unique}", f"2-{unique}"]
    assert [o.id for o in ops.list(target=f"t{unique}", kind="renew")] == [f"2-{unique}"]
    assert len(ops.list(target=f"t{unique}", limit=1)) == 1
    with pytest.raises(Conflict):
        ops.add(operation(f"2-{unique}", f"t{unique}"))
    with pytest.raises(NotFound) as caught:
        ops.get(f"9-{unique}")
    assert caught.value.code == "OperationNotFound"


def test_operation_save_needs_the_current_etag(side: Side, unique: str) -> None:
    ops = side.ctx.operations
    stale = ops.add(operation(f"1-{unique}", f"t{unique}"))
    fresh = ops.get(f"1-{unique}")
    fresh.status, fresh.result = OperationStatus.SUCCEEDED, {"thumbprint": "AB"}
    ops.save(fresh)
    stale.status = OperationStatus.FAILED
    with pytest.raises(PreconditionFailed):
        ops.save(stale)
    assert ops.get(f"1-{unique}").result == {"thumbprint": "AB"}


def test_operations_of_a_target_and_of_a_kind_page_newest_first(side: Side, unique: str) -> None:
    ops = side.ctx.operations
    assert ops.backfill_index(60)  # a fresh table: at once, and reads use the index from here on
    for n in range(5):
        ops.add(operation(f"{n}-{unique}", f"t{unique}", OperationKind.REKEY if n % 2 else OperationKind.RENEW))
    ops.add(operation(f"5-{unique}", f"https://v{unique}.vault.azure.net", OperationKind.REKEY))  # a URL target
    seen, token, pages = [], None, 0
    while pages == 0 or token:
        page = ops.page(2, token, target=f"t{unique}")
        seen, token, pages = seen + [o.id for o in page.items], page.next_token, pages + 1
    assert seen == [f"{n}-{unique}" for n in range(5)] and pages == 3
    assert [o.id for o in ops.page(10, target=f"t{unique}", kind="rekey").items] == [f"1-{unique}", f"3-{unique}"]
    mine = [o.id for o in ops.list(kind="rekey", limit=10_000) if o.id.endswith(unique)]  # other tests share the table
    assert mine == [f"1-{unique}", f"3-{unique}", f"5-{unique}"]
    assert [o.id for o in ops.list(target=f"https://v{unique}.vault.azure.net")] == [f"5-{unique}"]
    assert ops.latest_of(f"t{unique}") == f"0-{unique}" and ops.latest_of(f"x{unique}") is None
    ops.delete(ops.get(f"0-{unique}"))
    assert ops.latest_of(f"t{unique}") == f"1-{unique}"


def test_operations_of_a_target_show_each_ones_current_state(side: Side, unique: str) -> None:
    ops = side.ctx.operations
    assert ops.backfill_index(60)
    op = ops.add(operation(f"1-{unique}", f"t{unique}"))
    op.status = OperationStatus.RUNNING
    ops.save(op)
    assert [o.status for o in ops.list(target=f"t{unique}")] == [OperationStatus.RUNNING]
    op.status, op.result = OperationStatus.SUCCEEDED, {"thumbprint": "AB"}
    ops.save(op)
    [listed] = ops.page(10, target=f"t{unique}", kind="renew").items
    assert (listed.status, listed.result, listed.requested_by) == (OperationStatus.SUCCEEDED, {"thumbprint": "AB"}, "alice")


def test_finished_operations_after_an_id(side: Side, unique: str) -> None:
    """The retention's range: Succeeded or Failed only, ids above the first one, at most `limit`."""
    ops = side.ctx.operations
    for n, status in enumerate([OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.RUNNING] * 2):
        op = operation(f"z{unique}-{n}", f"t{unique}")
        op.status = status
        ops.add(op)
    found = ops.finished_after(f"z{unique}-0", 10)
    assert [o.id for o in found] == [f"z{unique}-1", f"z{unique}-3", f"z{unique}-4"]
    assert [o.id for o in ops.finished_after(f"z{unique}", 2)] == [f"z{unique}-0", f"z{unique}-1"]


def test_operation_delete_needs_the_current_etag(side: Side, unique: str) -> None:
    ops = side.ctx.operations
    stale = ops.add(operation(f"1-{unique}", f"t{unique}"))
    fresh = ops.get(f"1-{unique}")
    fresh.status = OperationStatus.RUNNING
    ops.save(fresh)
    with pytest.raises(PreconditionFailed):
        ops.delete(stale)
    ops.delete(fresh)
    ops.delete(fresh)  # gone already: nothing to do
    with pytest.raises(NotFound):
        ops.get(f"1-{unique}")


def test_binding_index_entries_follow_writes_and_unindex_is_etag_checked(side: Side, unique: str) -> None:
    bindings = side.ctx.bindings
    row = bindings.add(binding(f"app{unique}", "a.example.com", f"l{unique}"))
    [entry] = [e for e in bindings.index_entries() if e.app == f"app{unique}"]
    assert (entry.link, entry.hostname) == (f"l{unique}", "a.example.com") and entry.etag

    row.link = f"m{unique}"  # the binding moves to another link: the old entry is stale, readers skip it
    bindings.save(row)
    assert bindings.for_link(f"l{unique}") == [] and len(bindings.for_link(f"m{unique}")) == 1
    entries = {(e.link, e.hostname) for e in bindings.index_entries() if e.app == f"app{unique}"}
    assert entries == {(f"l{unique}", "a.example.com"), (f"m{unique}", "a.example.com")}

    [moved] = [e for e in bindings.index_entries() if e.link == f"m{unique}"]
    bindings.save(row)  # a write refreshes the entry: the one read before is now stale
    bindings.unindex(moved)
    assert [e.link for e in bindings.index_entries() if e.app == f"app{unique}"].count(f"m{unique}") == 1
    [old] = [e for e in bindings.index_entries() if e.link == f"l{unique}"]
    bindings.unindex(old)
    bindings.delete(bindings.find(f"app{unique}", "a.example.com"))  # type: ignore[arg-type]
    assert {e.link for e in bindings.index_entries() if e.app == f"app{unique}"} == {f"m{unique}"}  # delete keeps it


def test_queued_operations_between_two_ids(side: Side, unique: str) -> None:
    """The stranded-operation repair's range: Queued only, first id included, last excluded."""
    ops = side.ctx.operations
    for n in (1, 2, 3, 4):
        ops.add(operation(f"{n}-{unique}", f"t{unique}"))
    done = ops.get(f"3-{unique}")
    done.status = OperationStatus.SUCCEEDED
    ops.save(done)
    found = ops.queued_between(f"2-{unique}", f"4-{unique}")
    assert [o.id for o in found if o.id.endswith(unique)] == [f"2-{unique}"]  # other tests share the table


# --- the local CA's revocation list --------------------------------------------------------


def test_revocation_list_insert_once_then_etag_checked_saves(side: Side) -> None:
    store = side.ctx.revocations
    assert store.find() is None
    entries = tuple(RevokedSerial(f"{n:040X}", "keyCompromise", T0, T0) for n in range(1200))  # over one property
    first = store.add(RevocationList(1, T0, entries))
    with pytest.raises(Conflict) as caught:
        store.add(RevocationList(1, T0))
    assert caught.value.code == "AlreadyExists"
    read = store.find()
    assert read == RevocationList(1, T0, entries) and read.etag == first.etag
    read.number = 2
    store.save(read)
    first.number = 3
    with pytest.raises(PreconditionFailed):
        store.save(first)  # written since it was read
    assert store.find().number == 2
