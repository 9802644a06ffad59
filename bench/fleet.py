"""The sweep benchmark's fleet: PFX secrets spread over the vaults, links and bindings with
every row the repositories' add() writes, then a share of the secrets changed outside certsync.

Built in bulk, so that 100,000 links take minutes, not hours: secrets are written by a few worker
processes (the SDK's per-request CPU, not the emulators, is the limit on a small machine), and
the Table rows are the rows LinkRepository.add / BindingRepository.add leave behind
(shared/tables.py rows_of_new_link, rows_of_new_binding, index markers included), written as
entity-group transactions of up to 100 rows of one partition, also from worker processes.
tests/integration/test_bench_fleet.py builds a small fleet both ways and compares every row.

Links hold exactly what their secret's version said when they were last checked, and were
checked a few seconds after that version was written, so no link is due for the sweep's
periodic full check (shared/sweep.py full_check_due, seen_too_soon): only the changed secrets
should cost a value read.
"""
from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from azure.core.exceptions import ResourceExistsError, ServiceResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableTransactionError
from azure.keyvault.secrets import SecretClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from shared import pki
from shared.app_context import AppContext
from shared.model import LinkedCertificate, SslBinding, SslState
from shared.settings import Settings
from shared.tables import BindingRepository, LinkRepository, index_marker_row, rows_of_new_binding, rows_of_new_link
from shared.vault import PFX_CONTENT_TYPE, make_secret_client

T = TypeVar("T")
CHECKED_AFTER_WRITE = timedelta(seconds=3)  # > the 2 s of seen_too_soon
WRITERS = 8  # Azurite and the emulator are single processes; more threads only queue
WRITER_PROCESSES = 4  # the SDK's CPU per request is the limit: one process per core, and others waiting
TRANSACTION_ROWS = 100  # an entity-group transaction: at most 100 rows of one partition
TASK_ROWS = 2000  # rows handed to a worker process at a time
THREADS_PER_PROCESS = 4  # requests in flight per worker process
Group = tuple[str, list[dict]]  # (table, rows of one partition)


@dataclass(frozen=True)
class FleetShape:
    links: int = 10_000
    secrets: int = 2_000
    changed_fraction: float = 0.05
    seed: int = 2024

    @property
    def changed(self) -> int:
        return round(self.secrets * self.changed_fraction)


@dataclass
class FleetSecret:
    """One secret as the bench wrote it: the version links hold and, if changed, the new one."""

    vault_url: str
    name: str
    hostnames: tuple[str, ...]
    version: str = ""
    updated_on: datetime | None = None
    thumbprint: str = ""
    not_after: datetime | None = None
    new_version: str = ""
    new_thumbprint: str = ""

    @property
    def secret_id(self) -> str:
        return f"{self.vault_url}/secrets/{self.name}"

    @property
    def changed(self) -> bool:
        return bool(self.new_version)


@dataclass
class Fleet:
    shape: FleetShape
    secrets: list[FleetSecret]
    links: list[LinkedCertificate] = field(default_factory=list)
    bindings: list[SslBinding] = field(default_factory=list)

    def by_secret_id(self) -> dict[str, FleetSecret]:
        return {s.secret_id: s for s in self.secrets}

    def secrets_in(self, vault_url: str) -> int:
        return sum(1 for s in self.secrets if s.vault_url == vault_url)

    def changed_in(self, vault_url: str) -> int:
        return sum(1 for s in self.secrets if s.vault_url == vault_url and s.changed)

    @property
    def changed_links(self) -> int:
        changed = {s.secret_id for s in self.secrets if s.changed}
        return sum(1 for link in self.links if link.secret_id in changed)


def build_fleet(ctx: AppContext, shape: FleetShape, vault_urls: list[str],
                log: Callable[[str], None] = lambda _: None) -> Fleet:  # fmt: skip
    """Secrets, then rows, then the out-of-band changes (a second or more later, so the
    changed secrets' whole-second "updated" differs from what the links hold)."""
    clients = {url: make_secret_client(ctx.settings, vault_url=url) for url in vault_urls}
    try:
        fleet = Fleet(shape, plan_secrets(shape, vault_urls))
        with _workers() as pool:
            write_secrets(pool, ctx.settings, fleet.secrets)
            log(f"fleet: {len(fleet.secrets)} secrets written")
            fleet.links, fleet.bindings = plan_rows(shape, fleet.secrets)
            rows = write_rows_in_batches(pool, ctx, fleet.links, fleet.bindings)
            log(f"fleet: {rows} Table rows written")
        change_secrets(clients, fleet)
        return fleet
    finally:
        for client in clients.values():
            client.close()


def _workers() -> ProcessPoolExecutor:
    """Spawned, not forked: the bench process runs threads."""
    return ProcessPoolExecutor(WRITER_PROCESSES, mp_context=multiprocessing.get_context("spawn"))


def write_secrets(pool: Executor, settings: Settings, secrets: list[FleetSecret]) -> None:
    """Each secret's first version (its own EC certificate), written by the worker processes."""
    chunks = [secrets[i : i + 100] for i in range(0, len(secrets), 100)]
    plans = [[(s.vault_url, s.name, s.hostnames) for s in chunk] for chunk in chunks]
    for chunk, written in zip(chunks, pool.map(_write_originals, [settings] * len(plans), plans), strict=True):
        for secret, (version, updated_on, thumbprint, not_after) in zip(chunk, written, strict=True):
            secret.version, secret.updated_on = version, updated_on
            secret.thumbprint, secret.not_after = thumbprint, not_after


def plan_secrets(shape: FleetShape, vault_urls: list[str]) -> list[FleetSecret]:
    """Secret i lives in vault i mod len(vaults) and covers s<i>.bench.test and its wildcard."""
    return [
        FleetSecret(
            vault_url=vault_urls[i % len(vault_urls)],
            name=f"bench-{i:05d}",
            hostnames=(f"s{i}.bench.test", f"*.s{i}.bench.test"),
        )
        for i in range(shape.secrets)
    ]


def plan_rows(shape: FleetShape, secrets: list[FleetSecret]) -> tuple[list[LinkedCertificate], list[SslBinding]]:
    """Link j uses secret j mod secrets (5 links per secret at the default shape) and has one
    or two bindings, each a hostname under the secret's wildcard, spread over 100 apps."""
    links: list[LinkedCertificate] = []
    bindings: list[SslBinding] = []
    for j in range(shape.links):
        i = j % len(secrets)
        secret = secrets[i]
        checked = secret.updated_on + CHECKED_AFTER_WRITE
        link = LinkedCertificate(
            name=f"link-{j:05d}",
            scope=f"rg-{j % 20:02d}",
            secret_id=secret.secret_id,
            thumbprint=secret.thumbprint,
            version=secret.version,
            secret_updated_on=secret.updated_on,
            not_after=secret.not_after,
            hostnames=secret.hostnames,
            last_synced_at=checked,
            last_checked_at=checked,
        )
        links.append(link)
        for k in range(1 + j % 2):
            bindings.append(
                SslBinding(f"app-{j % 100:03d}", f"b{k}-l{j}.s{i}.bench.test", link.name, secret.thumbprint,
                           SslState.SNI, checked)
            )
    return links, bindings


def write_rows(ctx: AppContext, links: list[LinkedCertificate], bindings: list[SslBinding]) -> None:
    """Through the repositories, one add() per row (the reference the bulk path is checked against)."""
    _parallel(ctx.links.add, links)
    _parallel(ctx.bindings.add, bindings)


def write_rows_in_batches(pool: Executor, ctx: AppContext, links: list[LinkedCertificate],
                          bindings: list[SslBinding]) -> int:  # fmt: skip
    """The rows add() would write, as inserts into fresh tables (Azurite looks a row up once for an
    insert, twice for an upsert): transactions of one partition each (a partition of one row: a
    single insert), handed to the workers in tasks of about TASK_ROWS rows. Returns the
    number of rows written."""
    tasks: list[list[Group]] = [[]]
    rows_in_task = 0
    for table, rows in _partitions(ctx, links, bindings).items():
        for start in range(0, len(rows), TRANSACTION_ROWS):
            if rows_in_task >= TASK_ROWS:
                tasks.append([])
                rows_in_task = 0
            tasks[-1].append((table[0], rows[start : start + TRANSACTION_ROWS]))
            rows_in_task += len(tasks[-1][-1][1])
    connection = ctx.settings.storage.connection_string or ""
    return sum(pool.map(_write_groups, [connection] * len(tasks), tasks))


def _partitions(ctx: AppContext, links: list[LinkedCertificate],
                bindings: list[SslBinding]) -> dict[tuple[str, str], list[dict]]:  # fmt: skip
    """Rows by (table, partition): every link's and binding's rows, and each table's index marker."""
    links_table = ctx.store.table(LinkRepository.table_name).table_name
    bindings_table = ctx.store.table(BindingRepository.table_name).table_name
    partitions: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for table, rows in [
        *((links_table, rows_of_new_link(link)) for link in links),
        *((bindings_table, rows_of_new_binding(binding)) for binding in bindings),
        (links_table, [index_marker_row()]),
        (bindings_table, [index_marker_row()]),
    ]:
        for row in rows:
            partitions[(table, row["PartitionKey"])].append(row)
    return partitions


def change_secrets(clients: dict[str, SecretClient], fleet: Fleet) -> list[FleetSecret]:
    """What a person does outside certsync: a new PFX version (new key, same hostnames)."""
    chosen = random.Random(fleet.shape.seed).sample(fleet.secrets, fleet.shape.changed)
    latest_write = max(s.updated_on for s in fleet.secrets).timestamp()
    while time.time() < latest_write + 1.1:
        time.sleep(0.1)

    def write(secret: FleetSecret) -> None:
        bundle = self_signed(secret.hostnames)
        value = pki.to_pfx_base64(bundle)
        written = clients[secret.vault_url].set_secret(secret.name, value, content_type=PFX_CONTENT_TYPE)
        secret.new_version, secret.new_thumbprint = written.properties.version, bundle.thumbprint

    _parallel(write, chosen)
    return chosen


def self_signed(hostnames: Iterable[str], now: datetime | None = None) -> pki.CertificateBundle:
    """An EC P-256 certificate valid for 90 days from an hour ago: cheap, and usable by any
    binding under its names (shared/pki.py check_usable)."""
    names = tuple(hostnames)
    now = now or datetime.now(UTC)
    key = pki.generate_private_key(pki.KeyType.EC256)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return pki.CertificateBundle(private_key=key, certificate=certificate)


# --- in the worker processes ----------------------------------------------------------------

_clients_lock = threading.Lock()
_secret_clients: dict[str, SecretClient] = {}
_thread = threading.local()


def _write_originals(settings: Settings, plans: list[tuple[str, str, tuple[str, ...]]]) -> list[tuple]:
    """(version, updated_on, thumbprint, not_after) of each secret written."""

    def write(plan: tuple[str, str, tuple[str, ...]]) -> tuple:
        vault_url, name, hostnames = plan
        with _clients_lock:
            client = _secret_clients.get(vault_url) or _secret_clients.setdefault(
                vault_url, make_secret_client(settings, vault_url=vault_url))  # fmt: skip
        bundle = self_signed(hostnames)
        secret = client.set_secret(name, pki.to_pfx_base64(bundle), content_type=PFX_CONTENT_TYPE)
        return secret.properties.version, secret.properties.updated_on, bundle.thumbprint, bundle.not_after

    with ThreadPoolExecutor(THREADS_PER_PROCESS) as threads:
        return list(threads.map(write, plans))


def _table_client(connection: str, table: str) -> TableClient:
    """One client per thread and table: clients that share a pipeline are not safe to send
    transactions from several threads (azure-core re-links the shared policies per batch).
    Without proxy settings from the environment: requests scans os.environ for them on every
    request, a third of the client's CPU per row here (loopback needs no proxy)."""
    clients: dict[str, TableClient] = _thread.__dict__.setdefault("tables", {})
    if table not in clients:
        transport = RequestsTransport(use_env_settings=False)
        clients[table] = TableClient.from_connection_string(connection, table, transport=transport)
    return clients[table]


def _write_groups(connection: str, groups: list[Group]) -> int:
    def write(group: Group) -> None:
        table, rows = group
        client = _table_client(connection, table)
        for attempt in range(3):
            try:
                if len(rows) == 1:
                    client.create_entity(rows[0])
                else:
                    client.submit_transaction([("create", row) for row in rows])
                return
            except ServiceResponseError:  # Azurite closed an idle kept-alive connection; a POST is not retried for us
                if attempt == 2:
                    raise
            except (ResourceExistsError, TableTransactionError):
                if attempt == 0:
                    raise
                return  # the failed attempt's request had arrived after all

    with ThreadPoolExecutor(THREADS_PER_PROCESS) as threads:
        list(threads.map(write, groups))
    return sum(len(rows) for _, rows in groups)


def _parallel(fn: Callable[[T], object], items: Iterable[T]) -> None:
    with ThreadPoolExecutor(WRITERS) as pool:
        for _ in pool.map(fn, items):  # re-raises the first failure
            pass
