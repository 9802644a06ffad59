"""Ports: the small interfaces the use cases need from storage, Key Vault, the queue and CAs.

The use cases are typed against these Protocols, never against an adapter. Two families
implement them: the Azure adapters (tables.py, vault.py, queueing.py, issuers/, dns/) and the
in-memory fakes of the fast test ring (tests/fakes/). One contract test (tests/contract/) runs
the same assertions against both, so they keep the same semantics:

- Every row carries an ETag. `add` is an insert (an existing key raises Conflict, code
  "AlreadyExists"); `save` and `delete` are conditional on the row's ETag (a mismatch, or for
  `save` a missing row, raises PreconditionFailed, code "ConcurrentChange"); deleting a row that
  is already gone is a no-op. Writes give the object its new ETag.
- A missing row or secret raises NotFound with the code named in each method's docstring.
- An unreachable dependency raises DependencyError.
- `save_batch` writes one entity-group transaction per partition (at most 100 rows each,
  each row ETag-checked) and returns the items of transactions that lost a race, of which
  nothing was written.
"""
from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Protocol

from shared.appservice.resources import ArmApp, ArmBinding, ArmCertificate
from shared.dns.base import DnsProvider
from shared.issuers.base import Issuer
from shared.model import (
    BindingIndexEntry,
    Certificate,
    Delivery,
    LinkedCertificate,
    Operation,
    RevocationList,
    SslBinding,
)
from shared.paging import Page
from shared.vault import SecretVersion

__all__ = [
    "AppService",
    "BindingStore",
    "CertificateStore",
    "DeliveryStore",
    "DnsProvider",
    "Issuer",
    "LinkStore",
    "OperationQueue",
    "OperationStore",
    "RevocationListStore",
    "SecretStore",
    "StorageHealth",
]


class CertificateStore(Protocol):
    def add(self, cert: Certificate) -> Certificate: ...

    def get(self, name: str) -> Certificate:
        """NotFound code "CertificateNotFound"."""
        ...

    def find(self, name: str) -> Certificate | None: ...

    def save(self, cert: Certificate) -> Certificate: ...

    def delete(self, cert: Certificate) -> None: ...

    def page(self, top: int, token: str | None = None) -> Page[Certificate]:
        """By name; `token` is a page's next_token (InvalidSkipToken when it is not)."""
        ...

    def list(self) -> builtins.list[Certificate]:
        """Ordered by name."""
        ...


class RevocationListStore(Protocol):
    """The local CA's one revocation list row."""

    def find(self) -> RevocationList | None: ...

    def add(self, revocations: RevocationList) -> RevocationList:
        """The first write; Conflict code "AlreadyExists" when another writer was first."""
        ...

    def save(self, revocations: RevocationList) -> RevocationList: ...


class LinkStore(Protocol):
    """Links live in their scope's partition; names are unique across scopes."""

    def add(self, link: LinkedCertificate) -> LinkedCertificate:
        """Conflict code "AlreadyExists" when the name is taken in any scope."""
        ...

    def save(self, link: LinkedCertificate) -> LinkedCertificate: ...

    def save_batch(self, links: builtins.list[LinkedCertificate]) -> builtins.list[LinkedCertificate]: ...

    def find(self, name: str) -> LinkedCertificate | None: ...

    def get(self, name: str) -> LinkedCertificate:
        """NotFound code "LinkNotFound"."""
        ...

    def reread(self, link: LinkedCertificate) -> LinkedCertificate:
        """A point read by scope and name; NotFound code "LinkNotFound"."""
        ...

    def delete(self, link: LinkedCertificate) -> None: ...

    def list(self) -> builtins.list[LinkedCertificate]:
        """Ordered by scope, then name."""
        ...

    def for_secret(self, secret_id: str) -> builtins.list[LinkedCertificate]: ...

    def page(self, top: int, token: str | None = None) -> Page[LinkedCertificate]:
        """By scope, then name."""
        ...

    def following(self, after: tuple[str, str] | None, top: int) -> builtins.list[LinkedCertificate]:
        """Up to `top` links in key order (scope, then name) whose key is above `after` (None: from the first)."""
        ...

    def in_vault(self, vault_url: str) -> builtins.list[LinkedCertificate]:
        """Links whose secret is in this vault (`https://host[:port]`, as parse_secret_id spells it)."""
        ...


class BindingStore(Protocol):
    """Bindings live in their app's partition, keyed by hostname."""

    def add(self, binding: SslBinding) -> SslBinding: ...

    def save(self, binding: SslBinding) -> SslBinding: ...

    def save_batch(self, bindings: builtins.list[SslBinding]) -> builtins.list[SslBinding]: ...

    def find(self, app: str, hostname: str) -> SslBinding | None: ...

    def delete(self, binding: SslBinding) -> None: ...

    def for_app(self, app: str) -> builtins.list[SslBinding]: ...

    def page_for_app(self, app: str, top: int, token: str | None = None) -> Page[SslBinding]:
        """By hostname."""
        ...

    def for_link(self, link: str) -> builtins.list[SslBinding]: ...

    def for_links(self, links: Iterable[str]) -> dict[str, builtins.list[SslBinding]]:
        """Grouped by link name; every asked-for name is a key, with [] when it has none."""
        ...

    def all(self) -> Iterator[SslBinding]: ...

    def index_entries(self) -> builtins.list[BindingIndexEntry]:
        """Every "link has a binding at app/hostname" entry as written; may be stale."""
        ...

    def unindex(self, entry: BindingIndexEntry) -> None:
        """Drop an entry unless it was written again since it was read (ETag)."""
        ...


class OperationStore(Protocol):
    def add(self, op: Operation) -> Operation: ...

    def save(self, op: Operation) -> Operation: ...

    def delete(self, op: Operation) -> None:
        """With the operation's ETag: PreconditionFailed if it changed since it was read; gone is fine."""
        ...

    def get(self, op_id: str) -> Operation:
        """NotFound code "OperationNotFound"."""
        ...

    def page(
        self, top: int, token: str | None = None, target: str | None = None, kind: str | None = None
    ) -> Page[Operation]:
        """Newest first; a filtered page may hold fewer than `top`."""
        ...

    def list(self, target: str | None = None, kind: str | None = None, limit: int = 100) -> builtins.list[Operation]:
        """Ordered by id, which puts the newest first."""
        ...

    def queued_between(self, first_id: str, last_id: str) -> builtins.list[Operation]:
        """Queued operations with first_id <= id < last_id (one RowKey range), newest first."""
        ...

    def finished_after(self, after_id: str, limit: int) -> builtins.list[Operation]:
        """At most `limit` Succeeded or Failed operations with id > after_id (older), by id (one RowKey range)."""
        ...

    def backfill_index(self, budget_seconds: float) -> bool:
        """Give rows written before the target/kind index their entries, resuming where the last
        call stopped; True once every row has them (reads use the index from then on)."""
        ...

    def latest_of(self, target: str) -> str | None:
        """The id of the newest operation of `target` that exists (through its index), or None."""
        ...


class DeliveryStore(Protocol):
    """Webhook deliveries (shared.notify), newest first."""

    def add(self, delivery: Delivery) -> Delivery:
        """Conflict code "AlreadyExists": the event was recorded for this webhook before."""
        ...

    def save(self, delivery: Delivery) -> Delivery: ...

    def get(self, delivery_id: str) -> Delivery:
        """NotFound code "DeliveryNotFound"."""
        ...

    def page(self, top: int, token: str | None = None, status: str | None = None) -> Page[Delivery]: ...

    def list(self, status: str | None = None, limit: int = 100) -> builtins.list[Delivery]: ...

    def delete(self, delivery: Delivery) -> None:
        """With the delivery's ETag: PreconditionFailed if it changed since it was read; gone is fine."""
        ...

    def finished_after(self, after_id: str, limit: int) -> builtins.list[Delivery]:
        """At most `limit` Succeeded or Failed deliveries with id > after_id (older), by id (one RowKey range)."""
        ...


class StorageHealth(Protocol):
    def ping(self) -> None:
        """Raises DependencyError when Table Storage cannot be reached."""
        ...


class SecretStore(Protocol):
    """One Key Vault's secrets. Versions are never rewritten; names ignore case."""

    @property
    def url(self) -> str: ...

    def set_secret(
        self,
        name: str,
        value: str,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        not_before: datetime | None = None,
        expires_on: datetime | None = None,
    ) -> SecretVersion:
        """Write a new version, which becomes the latest."""
        ...

    def get_secret(self, name: str, version: str | None = None) -> SecretVersion:
        """The latest version without `version`. NotFound code "SecretNotFound"; reading a
        disabled version raises DependencyError code "SecretForbidden" (Key Vault's 403)."""
        ...

    def list_secrets(self) -> Iterator[SecretVersion]:
        """Metadata of every secret's latest version, without values."""
        ...

    def list_versions(self, name: str) -> Iterator[SecretVersion]:
        """Metadata of every version, without values, in no particular order."""
        ...

    def close(self) -> None: ...


class OperationQueue(Protocol):
    """Delivers operation ids to the worker at least once (a crash redelivers)."""

    def enqueue(
        self, operation_id: str, *, delay_seconds: int = 0, trace: Mapping[str, str] | None = None
    ) -> None:
        """`trace`: the W3C trace context to carry to the worker (traceparent, tracestate)."""
        ...

    def close(self) -> None: ...


class AppService(Protocol):
    """Microsoft.Web certificates and hostname bindings in Azure Resource Manager.

    Errors after the client's own retries: Forbidden code "AuthorizationFailed" (the identity
    lacks the RBAC action, named in the message), NotFound, Conflict code "ArmConflict" (409/412),
    DependencyError code "ArmThrottled" (429) or "ArmUnavailable" (5xx, no answer), BadRequest
    with ARM's code for a refused request (for example a hostname the certificate does not cover).
    """

    def list_certificates(self, subscription: str) -> builtins.list[ArmCertificate]:
        """Every certificate resource of the subscription: one paged list."""
        ...

    def get_certificate(self, subscription: str, resource_group: str, name: str) -> ArmCertificate: ...

    def put_certificate(self, cert: ArmCertificate) -> ArmCertificate:
        """Create or import again from Key Vault; returns ARM's answer (thumbprint, keyVaultSecretStatus)."""
        ...

    def get_app(self, subscription: str, resource_group: str, site: str, slot: str = "") -> ArmApp:
        """A site (or slot); NotFound code "ResourceNotFound"."""
        ...

    def list_bindings(self, subscription: str, resource_group: str) -> builtins.list[ArmBinding]:
        """SSL-enabled hostnames of every site and deployment slot of the resource group."""
        ...

    def get_binding(self, binding: ArmBinding) -> ArmBinding: ...

    def put_binding(self, binding: ArmBinding) -> ArmBinding:
        """Write sslState and thumbprint of the hostname binding; returns ARM's answer."""
        ...

    def close(self) -> None: ...
