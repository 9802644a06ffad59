"""In-memory Table Storage repositories (shared.ports.*Store): rows keyed by (partition, row),
copied on every read and write, each write giving the row a new ETag."""
from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from shared.clock import utcnow
from shared.errors import Conflict, DependencyError, NotFound, PreconditionFailed
from shared.model import (
    BindingIndexEntry,
    Certificate,
    Delivery,
    DeliveryStatus,
    LinkedCertificate,
    Operation,
    OperationStatus,
    RevocationList,
    SslBinding,
)
from shared.paging import Page, decode_token, encode_token
from tests.fakes.hooks import Hooks

T = TypeVar("T", Certificate, LinkedCertificate, SslBinding, Operation, Delivery, RevocationList)
Key = tuple[str, str]
BATCH_LIMIT = 100  # rows per entity-group transaction
_etags = itertools.count(1)


def _new_etag() -> str:
    return f'W/"fake-{next(_etags)}"'


class FakeTable(Generic[T]):
    """One table: ETag-checked inserts, replaces and deletes, as the Azure adapter's Repository."""

    def __init__(self, name: str, key: Callable[[T], Key], hooks: Hooks) -> None:
        self.name = name
        self.key = key
        self.hooks = hooks
        self.rows: dict[Key, T] = {}
        self.down = False  # set by a test: every call raises DependencyError, like an outage

    def _check_up(self, doing: str) -> None:
        if self.down:
            raise DependencyError(f"Table Storage failed while {doing}: ServiceRequestError")

    def _stored(self, item: T) -> T:
        return copy.deepcopy(item)

    def insert(self, item: T, what: str) -> T:
        self._check_up(f"creating {what}")
        if self.key(item) in self.rows:
            raise Conflict(f"{what} already exists", code="AlreadyExists")
        item.etag = _new_etag()
        self.rows[self.key(item)] = self._stored(item)
        return item

    def replace(self, item: T, what: str) -> T:
        self._check_up(f"updating {what}")
        current = self.rows.get(self.key(item))
        if current is None or current.etag != item.etag:
            raise PreconditionFailed(f"{what} was changed by someone else; retry", code="ConcurrentChange")
        item.etag = _new_etag()
        self.rows[self.key(item)] = self._stored(item)
        return item

    def remove(self, item: T, what: str) -> None:
        self._check_up(f"deleting {what}")
        current = self.rows.get(self.key(item))
        if current is None:
            return
        if current.etag != item.etag:
            raise PreconditionFailed(f"{what} was changed by someone else; retry", code="ConcurrentChange")
        del self.rows[self.key(item)]

    def read(self, key: Key, what: str, code: str = "NotFound") -> T:
        self._check_up(f"reading {what}")
        if key not in self.rows:
            raise NotFound(f"{what} was not found", code=code)
        return copy.deepcopy(self.rows[key])

    def scan(self, keep: Callable[[T], bool] = lambda _: True) -> list[T]:
        """Rows in (partition, row) order, as Table Storage returns them."""
        self._check_up(f"querying {self.name}")
        return [copy.deepcopy(self.rows[k]) for k in sorted(self.rows) if keep(self.rows[k])]

    def page(self, top: int, token: str | None, keep: Callable[[T], bool] = lambda _: True) -> Page[T]:
        """As Table Storage pages: from the token's key on, at most `top` rows, then the next key."""
        self._check_up(f"querying {self.name}")
        start = decode_token(token)
        first = (start["PartitionKey"], start["RowKey"]) if start else ("", "")
        keys = [k for k in sorted(self.rows) if k >= first and keep(self.rows[k])]
        following = encode_token({"PartitionKey": keys[top][0], "RowKey": keys[top][1]}) if len(keys) > top else None
        return Page([copy.deepcopy(self.rows[k]) for k in keys[:top]], following)

    def replace_batch(self, items: list[T]) -> list[T]:
        """Entity-group transactions per partition, at most 100 rows, all or nothing each."""
        self._check_up(f"updating {len(items)} rows")
        by_partition: dict[str, list[T]] = {}
        for item in items:
            by_partition.setdefault(self.key(item)[0], []).append(item)
        lost: list[T] = []
        for group in by_partition.values():
            for start in range(0, len(group), BATCH_LIMIT):
                chunk = group[start : start + BATCH_LIMIT]
                if any(self._stale(i) for i in chunk):
                    lost += chunk
                    continue
                for item in chunk:
                    item.etag = _new_etag()
                    self.rows[self.key(item)] = self._stored(item)
        return lost

    def _stale(self, item: T) -> bool:
        current = self.rows.get(self.key(item))
        return current is None or current.etag != item.etag


class _Store:
    """Fires hooks around every public call, so tests can pause an actor at any step."""

    label = ""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks

    def _around(self, method: str, call: Callable[[], T], *args: object) -> T:
        self.hooks.fire(f"before:{self.label}.{method}", *args)
        result = call()
        self.hooks.fire(f"after:{self.label}.{method}", *args)
        return result


class FakeCertificateStore(_Store):
    label = "certificates"

    def __init__(self, hooks: Hooks) -> None:
        super().__init__(hooks)
        self.table: FakeTable[Certificate] = FakeTable("certificates", lambda c: ("certificate", c.name), hooks)

    def add(self, cert: Certificate) -> Certificate:
        return self._around("add", lambda: self.table.insert(cert, f"certificate {cert.name}"), cert)

    def get(self, name: str) -> Certificate:
        what = f"certificate {name}"
        return self._around("get", lambda: self.table.read(("certificate", name), what, "CertificateNotFound"), name)

    def find(self, name: str) -> Certificate | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def save(self, cert: Certificate) -> Certificate:
        return self._around("save", lambda: self.table.replace(cert, f"certificate {cert.name}"), cert)

    def delete(self, cert: Certificate) -> None:
        self._around("delete", lambda: self.table.remove(cert, f"certificate {cert.name}"), cert)

    def list(self) -> list[Certificate]:
        return self._around("list", self.table.scan)

    def page(self, top: int, token: str | None = None) -> Page[Certificate]:
        return self._around("page", lambda: self.table.page(top, token), top, token)


class FakeRevocationListStore(_Store):
    label = "revocations"
    what = "the local CA's revocation list"

    def __init__(self, hooks: Hooks) -> None:
        super().__init__(hooks)
        self.table: FakeTable[RevocationList] = FakeTable("revocations", lambda _: ("local-ca", "crl"), hooks)

    def find(self) -> RevocationList | None:
        def read() -> RevocationList | None:
            try:
                return self.table.read(("local-ca", "crl"), self.what)
            except NotFound:
                return None

        return self._around("find", read)

    def add(self, revocations: RevocationList) -> RevocationList:
        return self._around("add", lambda: self.table.insert(revocations, self.what), revocations)

    def save(self, revocations: RevocationList) -> RevocationList:
        return self._around("save", lambda: self.table.replace(revocations, self.what), revocations)


class FakeLinkStore(_Store):
    """Names are unique across scopes (the real adapter keeps a name row for that)."""

    label = "links"

    def __init__(self, hooks: Hooks) -> None:
        super().__init__(hooks)
        self.table: FakeTable[LinkedCertificate] = FakeTable("links", lambda x: (x.scope, x.name), hooks)

    def add(self, link: LinkedCertificate) -> LinkedCertificate:
        def insert() -> LinkedCertificate:
            what = f"linked certificate {link.name}"
            if self._by_name(link.name) is not None:
                raise Conflict(f"{what} already exists", code="AlreadyExists")
            return self.table.insert(link, what)

        return self._around("add", insert, link)

    def save(self, link: LinkedCertificate) -> LinkedCertificate:
        return self._around("save", lambda: self.table.replace(link, f"linked certificate {link.name}"), link)

    def save_batch(self, links: list[LinkedCertificate]) -> list[LinkedCertificate]:
        return self._around("save_batch", lambda: self.table.replace_batch(links), links)

    def find(self, name: str) -> LinkedCertificate | None:
        return self._around("find", lambda: self._by_name(name), name)

    def _by_name(self, name: str) -> LinkedCertificate | None:
        found = self.table.scan(lambda x: x.name == name)
        return found[0] if found else None

    def get(self, name: str) -> LinkedCertificate:
        link = self.find(name)
        if link is None:
            raise NotFound(f"linked certificate {name} was not found", code="LinkNotFound")
        return link

    def reread(self, link: LinkedCertificate) -> LinkedCertificate:
        what = f"linked certificate {link.name}"
        return self._around("reread", lambda: self.table.read((link.scope, link.name), what, "LinkNotFound"), link)

    def delete(self, link: LinkedCertificate) -> None:
        self._around("delete", lambda: self.table.remove(link, f"linked certificate {link.name}"), link)

    def list(self) -> list[LinkedCertificate]:
        return self._around("list", self.table.scan)

    def page(self, top: int, token: str | None = None) -> Page[LinkedCertificate]:
        return self._around("page", lambda: self.table.page(top, token), top, token)

    def following(self, after: tuple[str, str] | None, top: int) -> list[LinkedCertificate]:
        def read() -> list[LinkedCertificate]:
            return self.table.scan(lambda x: after is None or (x.scope, x.name) > after)[:top]

        return self._around("following", read, after, top)

    def for_secret(self, secret_id: str) -> list[LinkedCertificate]:
        return self._around("for_secret", lambda: self.table.scan(lambda x: x.secret_id == secret_id), secret_id)

    def in_vault(self, vault_url: str) -> list[LinkedCertificate]:
        prefix = f"{vault_url}/secrets/"
        return self._around("in_vault", lambda: self.table.scan(lambda x: x.secret_id.startswith(prefix)), vault_url)


class FakeBindingStore(_Store):
    label = "bindings"

    def __init__(self, hooks: Hooks) -> None:
        super().__init__(hooks)
        self.table: FakeTable[SslBinding] = FakeTable("bindings", lambda b: (b.app, b.hostname), hooks)
        self.index: dict[tuple[str, str, str], BindingIndexEntry] = {}  # (link, app, hostname)

    def _index(self, binding: SslBinding) -> None:
        """As the adapter: the link's index entry is written (fresh ETag) before the binding."""
        self.table._check_up("indexing")
        key = (binding.link, binding.app, binding.hostname)
        self.index[key] = BindingIndexEntry(*key, written_at=utcnow(), etag=_new_etag())

    def add(self, binding: SslBinding) -> SslBinding:
        what = f"binding {binding.hostname} in app {binding.app}"

        def insert() -> SslBinding:
            self._index(binding)
            return self.table.insert(binding, what)

        return self._around("add", insert, binding)

    def save(self, binding: SslBinding) -> SslBinding:
        def replace() -> SslBinding:
            self._index(binding)
            return self.table.replace(binding, f"binding {binding.hostname}")

        return self._around("save", replace, binding)

    def index_entries(self) -> list[BindingIndexEntry]:
        return self._around("index_entries", lambda: [self.index[k] for k in sorted(self.index)])

    def unindex(self, entry: BindingIndexEntry) -> None:
        def drop() -> None:
            key = (entry.link, entry.app, entry.hostname)
            if key in self.index and self.index[key].etag == entry.etag:
                del self.index[key]

        self._around("unindex", drop, entry)

    def save_batch(self, bindings: list[SslBinding]) -> list[SslBinding]:
        return self._around("save_batch", lambda: self.table.replace_batch(bindings), bindings)

    def find(self, app: str, hostname: str) -> SslBinding | None:
        def read() -> SslBinding | None:
            try:
                return self.table.read((app, hostname), f"binding {hostname}", "BindingNotFound")
            except NotFound:
                return None

        return self._around("find", read, app, hostname)

    def delete(self, binding: SslBinding) -> None:
        self._around("delete", lambda: self.table.remove(binding, f"binding {binding.hostname}"), binding)

    def for_app(self, app: str) -> list[SslBinding]:
        return self._around("for_app", lambda: self.table.scan(lambda b: b.app == app), app)

    def page_for_app(self, app: str, top: int, token: str | None = None) -> Page[SslBinding]:
        return self._around("page_for_app", lambda: self.table.page(top, token, lambda b: b.app == app), app, top, token)

    def for_link(self, link: str) -> list[SslBinding]:
        return self._around("for_link", lambda: self.table.scan(lambda b: b.link == link), link)

    def for_links(self, links: Iterable[str]) -> dict[str, list[SslBinding]]:
        wanted = sorted(set(links))

        def group() -> dict[str, list[SslBinding]]:
            grouped: dict[str, list[SslBinding]] = {name: [] for name in wanted}
            for binding in self.table.scan(lambda b: b.link in grouped):
                grouped[binding.link].append(binding)
            return grouped

        return self._around("for_links", group, wanted)

    def all(self) -> Iterator[SslBinding]:
        return iter(self._around("all", self.table.scan))


class FakeOperationStore(_Store):
    label = "operations"

    def __init__(self, hooks: Hooks) -> None:
        super().__init__(hooks)
        self.table: FakeTable[Operation] = FakeTable("operations", lambda o: ("operation", o.id), hooks)

    def add(self, op: Operation) -> Operation:
        return self._around("add", lambda: self.table.insert(op, f"operation {op.id}"), op)

    def save(self, op: Operation) -> Operation:
        return self._around("save", lambda: self.table.replace(op, f"operation {op.id}"), op)

    def delete(self, op: Operation) -> None:
        self._around("delete", lambda: self.table.remove(op, f"operation {op.id}"), op)

    def get(self, op_id: str) -> Operation:
        what = f"operation {op_id}"
        op = self._around("get", lambda: self.table.read(("operation", op_id), what, "OperationNotFound"), op_id)
        op.final_attempt = True  # per delivery, never stored (as the Azure adapter reads it back)
        return op

    def list(self, target: str | None = None, kind: str | None = None, limit: int = 100) -> list[Operation]:
        def keep(op: Operation) -> bool:
            return (not target or op.target == target) and (not kind or op.kind.value == kind)

        return self._around("list", lambda: self.table.scan(keep)[:limit], target, kind)

    def queued_between(self, first_id: str, last_id: str) -> list[Operation]:
        def keep(op: Operation) -> bool:
            return first_id <= op.id < last_id and op.status is OperationStatus.QUEUED

        return self._around("queued_between", lambda: self.table.scan(keep), first_id, last_id)

    def finished_after(self, after_id: str, limit: int) -> list[Operation]:
        def keep(op: Operation) -> bool:
            return op.id > after_id and op.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED)

        return self._around("finished_after", lambda: self.table.scan(keep)[:limit], after_id, limit)

    def backfill_index(self, budget_seconds: float) -> bool:
        return True  # the fake has no index partitions: every read sees every row

    def latest_of(self, target: str) -> str | None:
        found = self._around("latest_of", lambda: self.table.scan(lambda op: op.target == target)[:1], target)
        return found[0].id if found else None

    def page(
        self, top: int, token: str | None = None, target: str | None = None, kind: str | None = None
    ) -> Page[Operation]:
        def keep(op: Operation) -> bool:
            return (not target or op.target == target) and (not kind or op.kind.value == kind)

        return self._around("page", lambda: self.table.page(top, token, keep), top, token, target, kind)


class FakeDeliveryStore(_Store):
    label = "deliveries"

    def __init__(self, hooks: Hooks) -> None:
        super().__init__(hooks)
        self.table: FakeTable[Delivery] = FakeTable("deliveries", lambda d: ("delivery", d.id), hooks)

    def add(self, delivery: Delivery) -> Delivery:
        return self._around("add", lambda: self.table.insert(delivery, f"delivery {delivery.id}"), delivery)

    def save(self, delivery: Delivery) -> Delivery:
        return self._around("save", lambda: self.table.replace(delivery, f"delivery {delivery.id}"), delivery)

    def get(self, delivery_id: str) -> Delivery:
        what = f"delivery {delivery_id}"
        return self._around("get", lambda: self.table.read(("delivery", delivery_id), what, "DeliveryNotFound"))

    def page(self, top: int, token: str | None = None, status: str | None = None) -> Page[Delivery]:
        return self._around("page", lambda: self.table.page(top, token, lambda d: not status or d.status == status))

    def list(self, status: str | None = None, limit: int = 100) -> list[Delivery]:
        return self._around("list", lambda: self.table.scan(lambda d: not status or d.status == status)[:limit])

    def delete(self, delivery: Delivery) -> None:
        self._around("delete", lambda: self.table.remove(delivery, f"delivery {delivery.id}"), delivery)

    def finished_after(self, after_id: str, limit: int) -> list[Delivery]:
        def keep(d: Delivery) -> bool:
            return d.id > after_id and d.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED)

        return self._around("finished_after", lambda: self.table.scan(keep)[:limit], after_id, limit)


class FakeStorageHealth:
    def __init__(self) -> None:
        self.down = False

    def ping(self) -> None:
        if self.down:
            raise DependencyError("Table Storage failed while listing tables: ServiceRequestError")
