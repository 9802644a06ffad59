"""Table Storage repositories: the only door to state.

Queries are always parameterised (never string-built filters) and every update carries the
row's ETag, so concurrent writers cannot silently overwrite each other.
"""
from __future__ import annotations

import builtins
import contextlib
import hashlib
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, TableServiceClient, TableTransactionError, UpdateMode

from shared.clock import from_iso, utcnow
from shared.errors import CertsyncError, Conflict, Contended, DependencyError, NotFound, PreconditionFailed
from shared.model import (
    BindingIndexEntry,
    Certificate,
    CertificateStatus,
    Delivery,
    DeliveryStatus,
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
from shared.paging import Page, decode_token, encode_token

T = TypeVar("T")
_index_lock = threading.Lock()
CERT_PARTITION = "certificate"
OPERATION_PARTITION = "operation"
DELIVERY_PARTITION = "delivery"
REVOCATION_PARTITION, REVOCATION_ROW = "local-ca", "crl"
REVOCATION_CHUNK = 30_000  # characters per string property (Table Storage allows 32 K UTF-16 units)
# Index partitions start with "~": scopes (resource groups) and app names cannot, and "~" sorts
# after every character they may hold, so `PartitionKey lt "~"` reads the entity rows only.
INDEX_START = "~"
NAME_PARTITION = "~names"  # link name -> scope: names unique across scopes
SECRET_INDEX = "~secret~"  # + hash of a secret id: link name -> scope, the links of one secret
LINK_INDEX = "~link~"  # + link name: "app~hostname" -> app, hostname, the bindings of one link
TARGET_INDEX = "~target~"  # + hash of an operation's target: its operations, RowKey the operation id
KIND_INDEX = "~kind~"  # + an operation kind: the operations of that kind, RowKey the operation id
META_PARTITION = "~meta"
INDEXED_MARKER = "indexes-v1"  # written once every entity row of the table has its index row
INDEX_CURSOR = "indexes-v1-cursor"  # operations: the last row a backfill run gave its entries
ABANDONED_NAME_AFTER = timedelta(minutes=1)  # a create takes well under a second
KEYS_PER_QUERY = 14  # RowKey terms per query, with the PartitionKey term 15 comparisons (the limit)
FULL_SCAN_ABOVE = 150  # above this many links one pass over the table is cheaper (the sweep)
_FINISHED = "( Status eq @succeeded or Status eq @failed )"  # spaces: the SDK reads "@failed)" as one name
# the same words for operations and deliveries
_FINISHED_PARAMETERS = {"succeeded": OperationStatus.SUCCEEDED.value, "failed": OperationStatus.FAILED.value}
MAX_RACE_TRIES = 8  # read-check-writes of a request without If-Match (retry_lost_races)
RACE_PAUSE_S = 0.01  # first pause bound after a lost race; doubles per try (at most ~2.5 s in all)


class TableStore:
    """Holds the service client and hands out one TableClient per table."""

    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self.service = service
        self.prefix = prefix
        self._clients: dict[str, TableClient] = {}

    def table(self, name: str) -> TableClient:
        if name not in self._clients:
            full = f"{self.prefix}{name}"
            try:
                self.service.create_table_if_not_exists(full)
            except AzureError as err:
                raise _dependency(err, f"opening table {full}") from None
            self._clients[name] = self.service.get_table_client(full)
        return self._clients[name]

    def ping(self) -> None:
        """Cheap reachability check for /api/health."""
        try:
            next(iter(self.service.list_tables(results_per_page=1)), None)
        except AzureError as err:
            raise _dependency(err, "listing tables") from None

    def close(self) -> None:
        self.service.close()


class Repository:
    """Shared row plumbing; subclasses map one entity type."""

    table_name = ""

    def __init__(self, store: TableStore) -> None:
        self.store = store

    @property
    def client(self) -> TableClient:
        return self.store.table(self.table_name)

    def _insert(self, entity: dict, what: str) -> str:
        try:
            meta = self.client.create_entity(entity)
        except ResourceExistsError:
            raise Conflict(f"{what} already exists", code="AlreadyExists") from None
        except AzureError as err:
            raise _dependency(err, f"creating {what}") from None
        return meta.get("etag", "")

    def _update(self, entity: dict, etag: str | None, what: str) -> str:
        try:
            meta = self.client.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise PreconditionFailed(f"{what} was changed by someone else; retry", code="ConcurrentChange") from None
        except AzureError as err:
            raise _dependency(err, f"updating {what}") from None
        return meta.get("etag", "")

    def _save_batch(self, items: list[T], row_of: Callable[[T], dict]) -> list[T]:
        """Update rows in entity-group transactions (one partition, at most 100 rows, each
        ETag-checked). Returns the items of transactions that lost a race (nothing of those was
        written); the others get their new ETags."""
        by_partition: dict[str, list[T]] = {}
        for item in items:
            by_partition.setdefault(row_of(item)["PartitionKey"], []).append(item)
        lost: list[T] = []
        for group in by_partition.values():
            for start in range(0, len(group), 100):
                chunk = group[start : start + 100]
                try:
                    results = self.client.submit_transaction(
                        [("update", row_of(i), _replace_if_unchanged(i.etag)) for i in chunk]  # type: ignore[attr-defined]
                    )
                except TableTransactionError:
                    lost += chunk
                    continue
                except AzureError as err:
                    raise _dependency(err, f"updating {len(chunk)} rows") from None
                for item, meta in zip(chunk, results, strict=False):
                    item.etag = meta.get("etag", "")  # type: ignore[attr-defined]
        return lost

    def _get(self, partition: str, row: str, what: str, code: str = "NotFound") -> TableEntity:
        try:
            return self.client.get_entity(partition, row)
        except ResourceNotFoundError:
            raise NotFound(f"{what} was not found", code=code) from None
        except AzureError as err:
            raise _dependency(err, f"reading {what}") from None

    def _delete(self, partition: str, row: str, etag: str | None, what: str) -> None:
        try:
            self.client.delete_entity(partition, row, etag=etag, match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            raise PreconditionFailed(f"{what} was changed by someone else; retry", code="ConcurrentChange") from None
        except ResourceNotFoundError:
            return
        except AzureError as err:
            raise _dependency(err, f"deleting {what}") from None

    def _query(self, query: str, parameters: dict[str, Any], what: str) -> Iterator[dict]:
        try:
            yield from self.client.query_entities(query, parameters=parameters, results_per_page=1000)
        except AzureError as err:
            raise _dependency(err, f"querying {what}") from None

    def _first(self, query: str, parameters: dict[str, Any], count: int, what: str) -> list[dict]:
        """The first `count` rows (requests of at most `count` rows, never the rest of the range)."""
        try:
            found = self.client.query_entities(query, parameters=parameters, results_per_page=count)
            return list(itertools.islice(found, count))
        except AzureError as err:
            raise _dependency(err, f"querying {what}") from None

    def _page(
        self, query: str, parameters: dict[str, Any], top: int, token: str | None, what: str
    ) -> tuple[list, str | None]:
        """One page of at most `top` rows from where `token` left off, and the next token."""
        start = decode_token(token)
        try:
            found = self.client.query_entities(query, parameters=parameters, results_per_page=top)
            pages = found.by_page(continuation_token=start)  # type: ignore[arg-type]  # Tables takes its key dict
            rows = list(next(pages, []))
            return rows, encode_token(pages.continuation_token)  # type: ignore[attr-defined]
        except AzureError as err:
            raise _dependency(err, f"querying {what}") from None

    def _upsert(self, entity: dict, what: str) -> None:
        """Index rows only: each write gives the row a new ETag and timestamp."""
        try:
            self.client.upsert_entity(entity, mode=UpdateMode.REPLACE)
        except AzureError as err:
            raise _dependency(err, f"indexing {what}") from None

    def _drop(self, partition: str, row: str, what: str) -> None:
        """Index rows only: readers verify every entry, so a delete needs no ETag."""
        try:
            self.client.delete_entity(partition, row)
        except ResourceNotFoundError:
            return
        except AzureError as err:
            raise _dependency(err, f"unindexing {what}") from None

    def _rows_by_keys(self, partition: str, rows: list[str], what: str) -> Iterator[dict]:
        """Rows of one partition by RowKey, in parameterised chunks (index lookups)."""
        for start in range(0, len(rows), KEYS_PER_QUERY):
            params = {"pk": partition, **{f"r{i}": row for i, row in enumerate(rows[start : start + KEYS_PER_QUERY])}}
            terms = " or ".join(f"RowKey eq @{key}" for key in params if key != "pk")
            # a space before ")": the SDK reads "@r0)" as one name
            yield from self._query(f"PartitionKey eq @pk and ( {terms} )", params, what)

    def _index_once(self, build: Callable[[], None]) -> None:
        """Rows written before the indexes existed get their index rows once per table: the
        first process to find no marker builds them (idempotent upserts), then writes it."""
        if getattr(self, "_indexed", False):
            return
        with _index_lock:
            if getattr(self, "_indexed", False):
                return
            try:
                self._get(META_PARTITION, INDEXED_MARKER, "index marker")
            except NotFound:
                build()
                self._upsert(index_marker_row(), "index marker")
            self._indexed = True


class CertificateRepository(Repository):
    table_name = "certificates"

    def add(self, cert: Certificate) -> Certificate:
        cert.etag = self._insert(_cert_row(cert), f"certificate {cert.name}")
        return cert

    def get(self, name: str) -> Certificate:
        return _cert_from(self._get(CERT_PARTITION, name, f"certificate {name}", "CertificateNotFound"))

    def find(self, name: str) -> Certificate | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def save(self, cert: Certificate) -> Certificate:
        cert.etag = self._update(_cert_row(cert), cert.etag, f"certificate {cert.name}")
        return cert

    def delete(self, cert: Certificate) -> None:
        self._delete(CERT_PARTITION, cert.name, cert.etag, f"certificate {cert.name}")

    def list(self) -> list[Certificate]:
        rows = self._query("PartitionKey eq @pk", {"pk": CERT_PARTITION}, "certificates")
        return [_cert_from(row) for row in rows]

    def page(self, top: int, token: str | None = None) -> Page[Certificate]:
        """By name."""
        rows, following = self._page("PartitionKey eq @pk", {"pk": CERT_PARTITION}, top, token, "certificates")
        return Page([_cert_from(row) for row in rows], following)


class RevocationListRepository(Repository):
    """The local CA's revoked serials, one row; the JSON list is split over `Entries0`,
    `Entries1`, ... properties, since one string property holds at most 64 KB."""

    table_name = "revocations"
    what = "the local CA's revocation list"

    def find(self) -> RevocationList | None:
        try:
            return _revocations_from(self._get(REVOCATION_PARTITION, REVOCATION_ROW, self.what))
        except NotFound:
            return None

    def add(self, revocations: RevocationList) -> RevocationList:
        revocations.etag = self._insert(_revocations_row(revocations), self.what)
        return revocations

    def save(self, revocations: RevocationList) -> RevocationList:
        revocations.etag = self._update(_revocations_row(revocations), revocations.etag, self.what)
        return revocations


class LinkRepository(Repository):
    """Links live in their scope's partition; a name row in one partition (NAME_PARTITION) makes
    names unique across scopes and turns a lookup by name into two point reads."""

    table_name = "links"

    def add(self, link: LinkedCertificate) -> LinkedCertificate:
        """Name row, then secret index row, then the link row: a crash leaves at most index rows
        that readers skip (no link row behind them)."""
        self._index_once(self._build_secret_index)
        self._reserve(link)
        self._upsert(_secret_index_row(link), f"linked certificate {link.name}")
        link.etag = self._insert(_link_row(link), f"linked certificate {link.name}")
        owner = self._get(NAME_PARTITION, link.name, f"linked certificate {link.name}")
        if owner["Scope"] != link.scope:  # our name row was taken over while we inserted: we lost
            self._delete(link.scope, link.name, link.etag, f"linked certificate {link.name}")
            raise Conflict(f"linked certificate {link.name} already exists", code="AlreadyExists")
        return link

    def _reserve(self, link: LinkedCertificate) -> None:
        """The insert is the uniqueness check. A name row without its link row is either a
        create in progress (young: refuse) or left by a crash (older than a minute: take over)."""
        row = _name_row(link)
        try:
            self._insert(row, f"linked certificate {link.name}")
            return
        except Conflict:
            existing = self._get(NAME_PARTITION, link.name, f"linked certificate {link.name}")
            written = existing.metadata.get("timestamp")
            young = written is None or utcnow() - written < ABANDONED_NAME_AFTER
            if young or self._row(existing["Scope"], link.name) is not None:
                raise
        self._update(row, existing.metadata["etag"], f"linked certificate {link.name}")

    def _release(self, link: LinkedCertificate) -> None:
        """Delete the name row only while it is still ours (scope and ETag checked)."""
        try:
            row = self._get(NAME_PARTITION, link.name, f"linked certificate {link.name}")
            if row["Scope"] == link.scope:
                self._delete(NAME_PARTITION, link.name, row.metadata["etag"], f"linked certificate {link.name}")
        except CertsyncError:
            pass  # a left-over name row is taken over by the next create

    def _row(self, scope: str, name: str) -> dict | None:
        try:
            return self._get(scope, name, f"linked certificate {name}")
        except NotFound:
            return None

    def save(self, link: LinkedCertificate) -> LinkedCertificate:
        link.etag = self._update(_link_row(link), link.etag, f"linked certificate {link.name}")
        return link

    def find(self, name: str) -> LinkedCertificate | None:
        try:
            scope = self._get(NAME_PARTITION, name, f"linked certificate {name}")["Scope"]
        except NotFound:
            return None
        row = self._row(scope, name)
        return _link_from(row) if row is not None else None

    def save_batch(self, links: list[LinkedCertificate]) -> list[LinkedCertificate]:
        return self._save_batch(links, _link_row)

    def reread(self, link: LinkedCertificate) -> LinkedCertificate:
        """A point read by scope and name (the cheap way, when the scope is known)."""
        row = self._get(link.scope, link.name, f"linked certificate {link.name}", "LinkNotFound")
        return _link_from(row)

    def get(self, name: str) -> LinkedCertificate:
        link = self.find(name)
        if link is None:
            raise NotFound(f"linked certificate {name} was not found", code="LinkNotFound")
        return link

    def delete(self, link: LinkedCertificate) -> None:
        """The link row (ETag-checked) is the commit point; its index rows follow, the name row
        last, so the name stays taken until nothing of the old link is left."""
        self._delete(link.scope, link.name, link.etag, f"linked certificate {link.name}")
        self._drop(_secret_partition(link.secret_id), link.name, f"linked certificate {link.name}")
        self._release(link)

    def list(self) -> list[LinkedCertificate]:
        rows = self._query("PartitionKey lt @index", {"index": INDEX_START}, "linked certificates")
        return [_link_from(row) for row in rows]

    def following(self, after: tuple[str, str] | None, top: int) -> builtins.list[LinkedCertificate]:
        """Up to `top` links in key order (scope, then name) after the key `after` (None: from the
        first): the rest of `after`'s scope, then the scopes above it; two ranges, no OR across
        partitions. The binding repair's pages resume from the last link they did."""
        if after is None:
            ranges = [("PartitionKey lt @index", {"index": INDEX_START})]
        else:
            scope, name = after
            ranges = [
                ("PartitionKey eq @scope and RowKey gt @name", {"scope": scope, "name": name}),
                ("PartitionKey gt @scope and PartitionKey lt @index", {"scope": scope, "index": INDEX_START}),
            ]
        rows: builtins.list[dict] = []
        for query, parameters in ranges:
            rows += self._first(query, parameters, top - len(rows), "linked certificates")
            if len(rows) >= top:
                break
        return [_link_from(row) for row in rows]

    def page(self, top: int, token: str | None = None) -> Page[LinkedCertificate]:
        """By scope, then name."""
        rows, following = self._page(
            "PartitionKey lt @index", {"index": INDEX_START}, top, token, "linked certificates"
        )
        return Page([_link_from(row) for row in rows], following)

    def for_secret(self, secret_id: str) -> builtins.list[LinkedCertificate]:
        """Through the secret's index partition, then the link rows by key, scope by scope."""
        self._index_once(self._build_secret_index)
        entries = self._query("PartitionKey eq @pk", {"pk": _secret_partition(secret_id)}, "linked certificates")
        by_scope: dict[str, list[str]] = {}
        for entry in entries:
            by_scope.setdefault(entry["Scope"], []).append(entry["RowKey"])
        found = [
            _link_from(row)
            for scope, names in sorted(by_scope.items())
            for row in self._rows_by_keys(scope, names, "linked certificates")
        ]
        return sorted((link for link in found if link.secret_id == secret_id), key=lambda link: link.name)

    def _build_secret_index(self) -> None:
        for link in self.list():
            self._upsert(_secret_index_row(link), f"linked certificate {link.name}")

    def in_vault(self, vault_url: str) -> builtins.list[LinkedCertificate]:
        """A range over SecretId: every id in the vault starts with `<vault>/secrets/` ('0' follows '/')."""
        bounds = {"index": INDEX_START, "low": f"{vault_url}/secrets/", "high": f"{vault_url}/secrets0"}
        query = "PartitionKey lt @index and SecretId ge @low and SecretId lt @high"
        rows = self._query(query, bounds, "linked certificates")
        return [_link_from(row) for row in rows]


class BindingRepository(Repository):
    table_name = "bindings"

    def add(self, binding: SslBinding) -> SslBinding:
        """The link's index row first (a fresh upsert, so no cleaner can take it meanwhile), then
        the binding: a binding never exists without the index row that finds it."""
        self._index_once(self._build_link_index)
        self._upsert(_link_index_row(binding), f"binding {binding.hostname}")
        binding.etag = self._insert(_binding_row(binding), f"binding {binding.hostname} in app {binding.app}")
        return binding

    def save(self, binding: SslBinding) -> SslBinding:
        self._index_once(self._build_link_index)
        self._upsert(_link_index_row(binding), f"binding {binding.hostname}")
        binding.etag = self._update(_binding_row(binding), binding.etag, f"binding {binding.hostname}")
        return binding

    def save_batch(self, bindings: list[SslBinding]) -> list[SslBinding]:
        return self._save_batch(bindings, _binding_row)

    def find(self, app: str, hostname: str) -> SslBinding | None:
        try:
            return _binding_from(self._get(app, hostname, f"binding {hostname}", "BindingNotFound"))
        except NotFound:
            return None

    def delete(self, binding: SslBinding) -> None:
        """The index row stays: a concurrent create may have just refreshed it. Readers skip a
        stale entry; the sweep drops it once it is old (ETag-checked)."""
        self._delete(binding.app, binding.hostname, binding.etag, f"binding {binding.hostname}")

    def for_app(self, app: str) -> list[SslBinding]:
        return [_binding_from(r) for r in self._query("PartitionKey eq @app", {"app": app}, "bindings")]

    def page_for_app(self, app: str, top: int, token: str | None = None) -> Page[SslBinding]:
        """By hostname."""
        rows, following = self._page("PartitionKey eq @app", {"app": app}, top, token, "bindings")
        return Page([_binding_from(row) for row in rows], following)

    def for_link(self, link: str) -> list[SslBinding]:
        return self.for_links([link])[link]

    def index_entries(self) -> list[BindingIndexEntry]:
        """Every entry of every link's index (the sweep's check for stale entries and orphans)."""
        self._index_once(self._build_link_index)
        params = {"lo": LINK_INDEX, "hi": LINK_INDEX + "~"}  # link names sort below "~"
        rows = self._query("PartitionKey ge @lo and PartitionKey lt @hi", params, "bindings")
        return [
            BindingIndexEntry(r["PartitionKey"][len(LINK_INDEX) :], r["App"], r["Hostname"], _timestamp(r), _etag(r))
            for r in rows
        ]

    def unindex(self, entry: BindingIndexEntry) -> None:
        """Drop an entry only if nobody refreshed it since it was read."""
        key = _link_index_key(entry.app, entry.hostname)
        with contextlib.suppress(PreconditionFailed):  # refreshed by a create meanwhile: it stays
            self._delete(LINK_INDEX + entry.link, key, entry.etag, f"binding {entry.hostname}")

    def all(self) -> Iterator[SslBinding]:
        for row in self._query("PartitionKey lt @index", {"index": INDEX_START}, "bindings"):
            yield _binding_from(row)

    def for_links(self, links: Iterable[str]) -> dict[str, list[SslBinding]]:
        """Bindings of links, grouped by link name. For a few links: their index partitions (15
        a query), then the binding rows by key, app by app; an entry whose binding now serves
        another link (or is gone) is skipped. For many (the sweep): one pass over the rows."""
        wanted = sorted(set(links))
        grouped: dict[str, list[SslBinding]] = {name: [] for name in wanted}
        if len(wanted) > FULL_SCAN_ABOVE:
            rows: Iterable[dict] = self._query("PartitionKey lt @index", {"index": INDEX_START}, "bindings")
        else:
            self._index_once(self._build_link_index)
            by_app: dict[str, set[str]] = {}
            for start in range(0, len(wanted), KEYS_PER_QUERY + 1):
                chunk = wanted[start : start + KEYS_PER_QUERY + 1]
                params = {f"p{i}": LINK_INDEX + name for i, name in enumerate(chunk)}
                query = " or ".join(f"PartitionKey eq @{key}" for key in params)
                for entry in self._query(query, params, "bindings"):
                    by_app.setdefault(entry["App"], set()).add(entry["Hostname"])
            rows = (
                row
                for app, hosts in sorted(by_app.items())
                for row in self._rows_by_keys(app, sorted(hosts), "bindings")
            )
        for row in rows:
            if row.get("Link") in grouped:
                grouped[row["Link"]].append(_binding_from(row))
        return grouped

    def _build_link_index(self) -> None:
        for binding in self.all():
            self._upsert(_link_index_row(binding), f"binding {binding.hostname}")


class OperationRepository(Repository):
    """Operations newest first (ids are inverted time). "Operations of X" and "operations of kind
    K" are read through index partitions (`~target~<hash of X>`, `~kind~<K>`: RowKey the id),
    never by filtering the operation partition (nor by OR-ing RowKeys in it: Table Storage scans
    the partition for that). An entry is a copy of its operation: written before the row, and
    again once the row is final (Succeeded/Failed never change again). Readers take a final
    entry as it is and read the row of any other (a crash between the final save and the copy
    leaves an entry that says Running); operations read from entries carry no ETag. Deleting
    drops the entries first, so no entry outlives its row. Rows written before the index get
    their entries from `backfill_index` (the retention timer, resumable); until it is done,
    reads filter the operation partition as before."""

    table_name = "operations"
    _index_ready = False

    def add(self, op: Operation) -> Operation:
        self._index(op)
        try:
            op.etag = self._insert(_operation_row(op), f"operation {op.id}")
        except Conflict:  # the id was taken (a derived one): its entries copy the row that holds it
            with contextlib.suppress(NotFound):
                self._index(self.get(op.id))
            raise
        return op

    def save(self, op: Operation) -> Operation:
        op.etag = self._update(_operation_row(op), op.etag, f"operation {op.id}")
        if op.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED):
            with contextlib.suppress(DependencyError):  # a non-final entry is read through its row
                self._index(op)
        return op

    def delete(self, op: Operation) -> None:
        for entry in _operation_index_rows(op):
            self._drop(entry["PartitionKey"], op.id, f"operation {op.id}")
        try:
            self._delete(OPERATION_PARTITION, op.id, op.etag, f"operation {op.id}")
        except PreconditionFailed:  # it changed since it was read and stays: so do its entries
            with contextlib.suppress(NotFound):
                self._index(self.get(op.id))
            raise

    def _index(self, op: Operation) -> None:
        for entry in _operation_index_rows(op):
            self._upsert(entry, f"operation {op.id}")

    def get(self, op_id: str) -> Operation:
        row = self._get(OPERATION_PARTITION, op_id, f"operation {op_id}", "OperationNotFound")
        return _operation_from(row)

    def list(self, target: str | None = None, kind: str | None = None, limit: int = 100) -> list[Operation]:
        if target or kind:
            query, params = self._indexed_query(target, kind)
            entries = itertools.islice(self._query(query, params, "operations"), limit)
            return self._of_entries(list(entries), target, kind)
        rows = itertools.islice(self._query("PartitionKey eq @pk", {"pk": OPERATION_PARTITION}, "operations"), limit)
        return [_operation_from(row) for row in rows]

    def queued_between(self, first_id: str, last_id: str) -> builtins.list[Operation]:
        query = "PartitionKey eq @pk and RowKey ge @first and RowKey lt @last and Status eq @status"
        params = {"pk": OPERATION_PARTITION, "first": first_id, "last": last_id, "status": OperationStatus.QUEUED.value}
        return [_operation_from(row) for row in self._query(query, params, "operations")]

    def finished_after(self, after_id: str, limit: int) -> builtins.list[Operation]:
        """Succeeded or Failed operations with an id above `after_id` (older ones), oldest id last."""
        query = f"PartitionKey eq @pk and RowKey gt @after and {_FINISHED}"
        params = {"pk": OPERATION_PARTITION, "after": after_id, **_FINISHED_PARAMETERS}
        return [_operation_from(row) for row in itertools.islice(self._query(query, params, "operations"), limit)]

    def latest_of(self, target: str) -> str | None:
        """The id of the target's newest operation that still exists."""
        query, params = self._indexed_query(target, None)
        for entry in self._query(query, params, "operations"):
            with contextlib.suppress(NotFound):
                return self.get(entry["RowKey"]).id
        return None

    def page(
        self, top: int, token: str | None = None, target: str | None = None, kind: str | None = None
    ) -> Page[Operation]:
        """Newest first; a page may hold fewer than `top` (an entry whose operation is gone)."""
        if not target and not kind:
            rows, following = self._page("PartitionKey eq @pk", {"pk": OPERATION_PARTITION}, top, token, "operations")
            return Page([_operation_from(row) for row in rows], following)
        query, params = self._indexed_query(target, kind)
        entries, following = self._page(query, params, top, token, "operations")
        return Page(self._of_entries(entries, target, kind), following)

    def backfill_index(self, budget_seconds: float) -> bool:
        """Index entries for rows written before the index, oldest-written last, from where the
        last call stopped (a cursor row); the marker row once every row has them."""
        if self._index_complete():
            return True
        deadline = time.monotonic() + budget_seconds
        cursor = self._read_cursor()
        rows = self._query("PartitionKey eq @pk and RowKey gt @after", {"pk": OPERATION_PARTITION, "after": cursor},
                           "operations")
        for count, row in enumerate(rows, start=1):
            for entry in _operation_index_rows(_operation_from(row)):
                self._upsert(entry, "operations")
            cursor = row["RowKey"]
            if count % 100 == 0 and time.monotonic() >= deadline:
                self._upsert({"PartitionKey": META_PARTITION, "RowKey": INDEX_CURSOR, "After": cursor}, "operations")
                return False
        self._upsert({"PartitionKey": META_PARTITION, "RowKey": INDEXED_MARKER}, "operations")
        self._index_ready = True
        return True

    def _index_complete(self) -> bool:
        if not self._index_ready:
            with contextlib.suppress(NotFound):
                self._index_ready = bool(self._get(META_PARTITION, INDEXED_MARKER, "index marker"))
        return self._index_ready

    def _read_cursor(self) -> str:
        try:
            return str(self._get(META_PARTITION, INDEX_CURSOR, "index cursor").get("After", ""))
        except NotFound:
            return ""

    def _indexed_query(self, target: str | None, kind: str | None) -> tuple[str, dict[str, Any]]:
        """One index partition: the target's (narrowed by kind within it), else the kind's; until
        the index is complete, the operation partition filtered as before."""
        params: dict[str, Any] = {"pk": OPERATION_PARTITION}
        if not self._index_complete():
            query = "PartitionKey eq @pk"
            if target:
                query, params["target"] = query + " and Target eq @target", target
            if kind:
                query, params["kind"] = query + " and Kind eq @kind", kind
            return query, params
        if target:
            params["pk"] = _target_partition(target)
            if kind:
                return "PartitionKey eq @pk and Kind eq @kind", {**params, "kind": kind}
            return "PartitionKey eq @pk", params
        return "PartitionKey eq @pk", {"pk": KIND_INDEX + str(kind)}

    def _of_entries(
        self, entries: builtins.list[dict], target: str | None, kind: str | None
    ) -> builtins.list[Operation]:
        """Operations of index entries (or of the rows themselves, before the index is complete),
        newest first, verified against what was asked: a final entry as it is, any other through
        its row (one point read each; a row gone is left out)."""
        ops: builtins.list[Operation] = []
        for entry in entries:
            if entry["PartitionKey"] == OPERATION_PARTITION:
                ops.append(_operation_from(entry))
            elif entry.get("Status") in _FINISHED_PARAMETERS.values():
                ops.append(replace(_operation_from(entry), etag=""))
            else:
                with contextlib.suppress(NotFound):
                    ops.append(self.get(entry["RowKey"]))
        ops.sort(key=lambda op: op.id)
        return [op for op in ops if (not target or op.target == target) and (not kind or op.kind.value == kind)]


class DeliveryRepository(Repository):
    """Webhook deliveries, newest first (their ids start with the inverted event time)."""

    table_name = "deliveries"

    def add(self, delivery: Delivery) -> Delivery:
        delivery.etag = self._insert(_delivery_row(delivery), f"delivery {delivery.id}")
        return delivery

    def save(self, delivery: Delivery) -> Delivery:
        delivery.etag = self._update(_delivery_row(delivery), delivery.etag, f"delivery {delivery.id}")
        return delivery

    def get(self, delivery_id: str) -> Delivery:
        return _delivery_from(self._get(DELIVERY_PARTITION, delivery_id, f"delivery {delivery_id}", "DeliveryNotFound"))

    def page(self, top: int, token: str | None = None, status: str | None = None) -> Page[Delivery]:
        query, params = "PartitionKey eq @pk", {"pk": DELIVERY_PARTITION}
        if status:
            query, params["status"] = query + " and Status eq @status", status
        rows, following = self._page(query, params, top, token, "deliveries")
        return Page([_delivery_from(row) for row in rows], following)

    def delete(self, delivery: Delivery) -> None:
        self._delete(DELIVERY_PARTITION, delivery.id, delivery.etag, f"delivery {delivery.id}")

    def finished_after(self, after_id: str, limit: int) -> builtins.list[Delivery]:
        query = f"PartitionKey eq @pk and RowKey gt @after and {_FINISHED}"
        params = {"pk": DELIVERY_PARTITION, "after": after_id, **_FINISHED_PARAMETERS}
        return [_delivery_from(row) for row in itertools.islice(self._query(query, params, "deliveries"), limit)]

    def list(self, status: str | None = None, limit: int = 100) -> list[Delivery]:
        query, params = "PartitionKey eq @pk", {"pk": DELIVERY_PARTITION}
        if status:
            query, params["status"] = query + " and Status eq @status", status
        found: list[Delivery] = []
        for row in self._query(query, params, "deliveries"):
            found.append(_delivery_from(row))
            if len(found) >= limit:
                break
        return found


# --- row mapping -------------------------------------------------------------------------


def _json(values: Any) -> str:
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def _cert_row(c: Certificate) -> dict:
    return _drop_none(
        {
            "PartitionKey": CERT_PARTITION,
            "RowKey": c.name,
            "Hostnames": _json(list(c.hostnames)),
            "KeyType": c.key_type,
            "Issuer": c.issuer,
            "AutoRenew": c.auto_renew,
            "Status": c.status.value,
            "ValidityDays": c.validity_days,
            "ReuseKey": c.reuse_key,
            "Vault": c.vault,
            "SecretName": c.secret_name,
            "SecretVersion": c.secret_version,
            "SecretUpdatedOn": c.secret_updated_on,
            "Thumbprint": c.thumbprint,
            "Sha256": c.sha256,
            "Serial": c.serial,
            "NotBefore": c.not_before,
            "NotAfter": c.not_after,
            "RenewalDueAt": c.renewal_due_at,
            "RenewBeforeDays": c.renew_before_days,
            "Profile": c.profile,
            "AriId": c.ari_id,
            "AriWindowStart": c.ari_window[0] if c.ari_window else None,
            "AriWindowEnd": c.ari_window[1] if c.ari_window else None,
            "AriNextPollAt": c.ari_next_poll_at,
            "FailureCount": c.failure_count,
            "LastError": c.last_error,
            "ActiveOperation": c.active_operation,
            "CreatedAt": c.created_at,
            "ObservedVersion": c.observed_version,
            "ObservedThumbprint": c.observed_thumbprint,
            "ObservedUpdatedOn": c.observed_updated_on,
            "ObservedAt": c.observed_at,
            "ObservedError": c.observed_error,
            "Revoked": _json([_revoked_version_row(r) for r in c.revoked]) if c.revoked else None,
        }
    )


def _revoked_version_row(r: RevokedVersion) -> dict:
    return {"version": r.version, "thumbprint": r.thumbprint, "serial": r.serial, "reason": r.reason,
            "revokedAt": r.revoked_at.isoformat(), "operation": r.operation}


def _revoked_versions(text: str | None) -> tuple[RevokedVersion, ...]:
    return tuple(
        RevokedVersion(r["version"], r["thumbprint"], r["serial"], r["reason"], from_iso(r["revokedAt"]),
                       r.get("operation", ""))
        for r in json.loads(text or "[]")
    )


def _revocations_row(rl: RevocationList) -> dict:
    text = _json([[e.serial, e.reason, e.revoked_at.isoformat(), e.not_after.isoformat()] for e in rl.entries])
    chunks = [text[i : i + REVOCATION_CHUNK] for i in range(0, len(text), REVOCATION_CHUNK)]
    row = {"PartitionKey": REVOCATION_PARTITION, "RowKey": REVOCATION_ROW, "Number": rl.number,
           "ThisUpdate": rl.this_update, "Chunks": len(chunks)}
    row.update({f"Entries{i}": chunk for i, chunk in enumerate(chunks)})
    return _drop_none(row)


def _revocations_from(row: dict) -> RevocationList:
    text = "".join(row[f"Entries{i}"] for i in range(int(row.get("Chunks", 0))))
    rows = json.loads(text or "[]")
    entries = tuple(RevokedSerial(serial, reason, from_iso(at), from_iso(until)) for serial, reason, at, until in rows)
    return RevocationList(int(row.get("Number", 0)), _dt(row.get("ThisUpdate")), entries, _etag(row))


def _cert_from(row: dict) -> Certificate:
    return Certificate(
        name=row["RowKey"],
        hostnames=tuple(json.loads(row.get("Hostnames", "[]"))),
        key_type=row.get("KeyType", "RSA2048"),
        issuer=row.get("Issuer", "local"),
        auto_renew=bool(row.get("AutoRenew", True)),
        status=CertificateStatus(row.get("Status", CertificateStatus.PENDING_ISSUANCE.value)),
        validity_days=row.get("ValidityDays"),
        reuse_key=bool(row.get("ReuseKey", False)),
        vault=row.get("Vault", ""),
        secret_name=row.get("SecretName", ""),
        secret_version=row.get("SecretVersion", ""),
        secret_updated_on=_dt(row.get("SecretUpdatedOn")),
        thumbprint=row.get("Thumbprint", ""),
        sha256=row.get("Sha256", ""),
        serial=row.get("Serial", ""),
        not_before=_dt(row.get("NotBefore")),
        not_after=_dt(row.get("NotAfter")),
        renewal_due_at=_dt(row.get("RenewalDueAt")),
        renew_before_days=row.get("RenewBeforeDays"),
        profile=row.get("Profile", ""),
        ari_id=row.get("AriId", ""),
        ari_window=_window(row.get("AriWindowStart"), row.get("AriWindowEnd")),
        ari_next_poll_at=_dt(row.get("AriNextPollAt")),
        failure_count=int(row.get("FailureCount", 0)),
        last_error=row.get("LastError", ""),
        active_operation=row.get("ActiveOperation", ""),
        created_at=_dt(row.get("CreatedAt")),
        observed_version=row.get("ObservedVersion", ""),
        observed_thumbprint=row.get("ObservedThumbprint", ""),
        observed_updated_on=_dt(row.get("ObservedUpdatedOn")),
        observed_at=_dt(row.get("ObservedAt")),
        observed_error=row.get("ObservedError", ""),
        revoked=_revoked_versions(row.get("Revoked")),
        etag=_etag(row),
    )


def _window(start: Any, end: Any) -> tuple[datetime, datetime] | None:
    first, last = _dt(start), _dt(end)
    return (first, last) if first and last else None


def _link_row(link: LinkedCertificate) -> dict:
    return _drop_none(
        {
            "PartitionKey": link.scope,
            "RowKey": link.name,
            "SecretId": link.secret_id,
            "Certificate": link.certificate,
            "Thumbprint": link.thumbprint,
            "Version": link.version,
            "SecretUpdatedOn": link.secret_updated_on,
            "NotAfter": link.not_after,
            "Hostnames": _json(list(link.hostnames)),
            "LastSyncedAt": link.last_synced_at,
            "LastCheckedAt": link.last_checked_at,
            "LastSyncError": link.last_sync_error,
            "ResourceId": link.resource_id or None,
            "ServerFarmId": link.server_farm_id or None,
            "SecretStatus": link.secret_status or None,
        }
    )


def _link_from(row: dict) -> LinkedCertificate:
    return LinkedCertificate(
        name=row["RowKey"],
        scope=row["PartitionKey"],
        secret_id=row.get("SecretId", ""),
        certificate=row.get("Certificate", ""),
        thumbprint=row.get("Thumbprint", ""),
        version=row.get("Version", ""),
        secret_updated_on=_dt(row.get("SecretUpdatedOn")),
        not_after=_dt(row.get("NotAfter")),
        hostnames=tuple(json.loads(row.get("Hostnames", "[]"))),
        last_synced_at=_dt(row.get("LastSyncedAt")),
        last_checked_at=_dt(row.get("LastCheckedAt")),
        last_sync_error=row.get("LastSyncError", ""),
        resource_id=row.get("ResourceId", ""),
        server_farm_id=row.get("ServerFarmId", ""),
        secret_status=row.get("SecretStatus", ""),
        etag=_etag(row),
    )


def rows_of_new_link(link: LinkedCertificate) -> list[dict]:
    """Every row LinkRepository.add leaves for a new link: its name row, secret index row and
    link row. For loaders that write many in batches (the bench's fleet; a test compares)."""
    return [_name_row(link), _secret_index_row(link), _link_row(link)]


def rows_of_new_binding(binding: SslBinding) -> list[dict]:
    """Every row BindingRepository.add leaves for a new binding: its link index row, then the binding."""
    return [_link_index_row(binding), _binding_row(binding)]


def index_marker_row() -> dict:
    """The row that says every entity row of its table has its index rows (_index_once)."""
    return {"PartitionKey": META_PARTITION, "RowKey": INDEXED_MARKER}


def _name_row(link: LinkedCertificate) -> dict:
    return {"PartitionKey": NAME_PARTITION, "RowKey": link.name, "Scope": link.scope}


def _secret_partition(secret_id: str) -> str:
    """Secret ids hold "/", which keys may not: the partition is named by a hash of the id."""
    return SECRET_INDEX + hashlib.sha256(secret_id.encode()).hexdigest()[:40]


def _secret_index_row(link: LinkedCertificate) -> dict:
    return {"PartitionKey": _secret_partition(link.secret_id), "RowKey": link.name, "Scope": link.scope}


def _link_index_key(app: str, hostname: str) -> str:
    return f"{app}~{hostname}"  # neither app names nor hostnames hold "~"


def _link_index_row(b: SslBinding) -> dict:
    key = _link_index_key(b.app, b.hostname)
    return {"PartitionKey": LINK_INDEX + b.link, "RowKey": key, "App": b.app, "Hostname": b.hostname}


def _binding_row(b: SslBinding) -> dict:
    return _drop_none(
        {
            "PartitionKey": b.app,
            "RowKey": b.hostname,
            "Link": b.link,
            "Thumbprint": b.thumbprint,
            "SslState": b.ssl_state.value,
            "UpdatedAt": b.updated_at,
            "Slot": b.slot or None,
            "ResourceGroup": b.resource_group or None,
        }
    )


def _binding_from(row: dict) -> SslBinding:
    return SslBinding(
        app=row["PartitionKey"],
        hostname=row["RowKey"],
        link=row.get("Link", ""),
        thumbprint=row.get("Thumbprint", ""),
        ssl_state=SslState(row.get("SslState", SslState.SNI.value)),
        updated_at=_dt(row.get("UpdatedAt")),
        slot=row.get("Slot", ""),
        resource_group=row.get("ResourceGroup", ""),
        etag=_etag(row),
    )


def _operation_row(op: Operation) -> dict:
    return _drop_none(
        {
            "PartitionKey": OPERATION_PARTITION,
            "RowKey": op.id,
            "Kind": op.kind.value,
            "Target": op.target,
            "Status": op.status.value,
            "CreatedAt": op.created_at,
            "UpdatedAt": op.updated_at,
            "ErrorCode": op.error_code,
            "ErrorMessage": op.error_message,
            "Parameters": _json(op.parameters),
            "Result": _json(op.result),
            "RequestedBy": op.requested_by,
        }
    )


def _target_partition(target: str) -> str:
    """Targets may be URLs (a sweep's vault), which no key may hold: their hash names the partition."""
    return TARGET_INDEX + hashlib.sha256(target.encode()).hexdigest()


def _operation_index_rows(op: Operation) -> list[dict]:
    entry = _operation_row(op)  # a copy: a list of final operations reads the index partition alone
    return [
        {**entry, "PartitionKey": _target_partition(op.target)},
        {**entry, "PartitionKey": KIND_INDEX + op.kind.value},
    ]


def _operation_from(row: dict) -> Operation:
    return Operation(
        id=row["RowKey"],
        kind=OperationKind(row["Kind"]),
        target=row.get("Target", ""),
        status=OperationStatus(row.get("Status", OperationStatus.QUEUED.value)),
        created_at=_dt(row.get("CreatedAt")),
        updated_at=_dt(row.get("UpdatedAt")),
        error_code=row.get("ErrorCode", ""),
        error_message=row.get("ErrorMessage", ""),
        parameters=json.loads(row.get("Parameters", "{}")),
        result=json.loads(row.get("Result", "{}")),
        requested_by=row.get("RequestedBy", ""),
        etag=_etag(row),
    )


def _delivery_row(d: Delivery) -> dict:
    return _drop_none(
        {
            "PartitionKey": DELIVERY_PARTITION,
            "RowKey": d.id,
            "EventId": d.event_id,
            "EventType": d.event_type,
            "Subject": d.subject,
            "Webhook": d.webhook,
            "TargetKey": d.target_key,
            "Payload": _json(d.payload),
            "Status": d.status.value,
            "Attempts": d.attempts,
            "LastError": d.last_error,
            "Operation": d.operation,
            "CreatedAt": d.created_at,
            "NextAttemptAt": d.next_attempt_at,
            "DeliveredAt": d.delivered_at,
        }
    )


def _delivery_from(row: dict) -> Delivery:
    return Delivery(
        id=row["RowKey"],
        event_id=row.get("EventId", ""),
        event_type=row.get("EventType", ""),
        subject=row.get("Subject", ""),
        webhook=row.get("Webhook", ""),
        target_key=row.get("TargetKey", ""),
        payload=json.loads(row.get("Payload", "{}")),
        status=DeliveryStatus(row.get("Status", DeliveryStatus.PENDING.value)),
        attempts=int(row.get("Attempts", 0)),
        last_error=row.get("LastError", ""),
        operation=row.get("Operation", ""),
        created_at=_dt(row.get("CreatedAt")),
        next_attempt_at=_dt(row.get("NextAttemptAt")),
        delivered_at=_dt(row.get("DeliveredAt")),
        etag=_etag(row),
    )


def _drop_none(row: dict) -> dict:
    return {k: v for k, v in row.items() if v is not None}


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return from_iso(str(value))


def _dependency(err: AzureError, doing: str) -> DependencyError:
    return DependencyError(f"Table Storage failed while {doing}: {type(err).__name__}")


def retry_on_conflict(attempt: Callable[[], T], tries: int = 5) -> T:
    """Re-run a read-modify-write whose ETag lost a race; the callable must re-read."""
    for remaining in range(tries - 1, -1, -1):
        try:
            return attempt()
        except PreconditionFailed:
            if not remaining:
                raise
    raise AssertionError("unreachable")


def retry_lost_races(attempt: Callable[[], T], what: str, tries: int = MAX_RACE_TRIES) -> T:
    """For requests without If-Match: re-run a read-check-write whose ETag lost a race, with a
    short jittered pause so a burst of writers spreads out. Never answers 412; after `tries`
    losses, 503 Contended (nothing of this request was written)."""
    for attempt_no in range(tries):
        try:
            return attempt()
        except PreconditionFailed:
            time.sleep(random.uniform(0, RACE_PAUSE_S * 2**attempt_no))
    raise Contended(f"{what} kept changing while this request ran; nothing was changed, retry", code="Contended")


def _timestamp(row: dict) -> datetime | None:
    return row.metadata.get("timestamp") if hasattr(row, "metadata") else None


def _etag(row: dict) -> str:
    return row.metadata.get("etag", "") if hasattr(row, "metadata") else ""


def _replace_if_unchanged(etag: str | None) -> dict[str, Any]:
    """Options of a transaction update that replaces the row only if nobody wrote it since `etag`."""
    return {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified}
