"""The sweep benchmark's fleet: PFX secrets spread over the vaults, links and bindings written
straight through the repositories, then a share of the secrets changed outside certsync.

Links hold exactly what their secret's version said when they were last checked, and were
checked a few seconds after that version was written, so no link is due for the sweep's
periodic full check (shared/sweep.py full_check_due, seen_too_soon): only the changed secrets
should cost a value read.
"""
from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, TypeVar

from azure.keyvault.secrets import SecretClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from shared import pki
from shared.app_context import AppContext
from shared.model import LinkedCertificate, SslBinding, SslState
from shared.vault import PFX_CONTENT_TYPE, make_secret_client

T = TypeVar("T")
CHECKED_AFTER_WRITE = timedelta(seconds=3)  # > the 2 s of seen_too_soon
WRITERS = 8  # Azurite and the emulator are single processes; more threads only queue


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


def build_fleet(ctx: AppContext, shape: FleetShape, vault_urls: list[str]) -> Fleet:
    """Secrets, then rows, then the out-of-band changes (a second or more later, so the
    changed secrets' whole-second "updated" differs from what the links hold)."""
    clients = {url: make_secret_client(ctx.settings, vault_url=url) for url in vault_urls}
    try:
        fleet = Fleet(shape, plan_secrets(shape, vault_urls))
        _parallel(lambda s: _write_original(clients[s.vault_url], s), fleet.secrets)
        fleet.links, fleet.bindings = plan_rows(shape, fleet.secrets)
        write_rows(ctx, fleet.links, fleet.bindings)
        change_secrets(clients, fleet)
        return fleet
    finally:
        for client in clients.values():
            client.close()


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
                SslBinding(f"app-{j % 100:03d}", f"b{k}-l{j}.s{i}.bench.test", link.name, secret.thumbprint, SslState.SNI, checked)
            )
    return links, bindings


def write_rows(ctx: AppContext, links: list[LinkedCertificate], bindings: list[SslBinding]) -> None:
    _parallel(ctx.links.add, links)
    _parallel(ctx.bindings.add, bindings)


def change_secrets(clients: dict[str, SecretClient], fleet: Fleet) -> list[FleetSecret]:
    """What a person does outside certsync: a new PFX version (new key, same hostnames)."""
    chosen = random.Random(fleet.shape.seed).sample(fleet.secrets, fleet.shape.changed)
    latest_write = max(s.updated_on for s in fleet.secrets).timestamp()
    while time.time() < latest_write + 1.1:
        time.sleep(0.1)

    def write(secret: FleetSecret) -> None:
        bundle = self_signed(secret.hostnames)
        written = clients[secret.vault_url].set_secret(secret.name, pki.to_pfx_base64(bundle), content_type=PFX_CONTENT_TYPE)
        secret.new_version, secret.new_thumbprint = written.properties.version, bundle.thumbprint

    _parallel(write, chosen)
    return chosen


def self_signed(hostnames: Iterable[str], now: datetime | None = None) -> pki.CertificateBundle:
    """An EC P-256 certificate valid for 90 days from an hour ago: cheap, and usable by any
    binding under its names (shared/pki.py check_usable)."""
    names = tuple(hostnames)
    now = now or datetime.now(timezone.utc)
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


def _write_original(client: SecretClient, secret: FleetSecret) -> None:
    bundle = self_signed(secret.hostnames)
    written = client.set_secret(secret.name, pki.to_pfx_base64(bundle), content_type=PFX_CONTENT_TYPE)
    secret.version, secret.updated_on = written.properties.version, written.properties.updated_on
    secret.thumbprint, secret.not_after = bundle.thumbprint, bundle.not_after


def _parallel(fn: Callable[[T], object], items: Iterable[T]) -> None:
    with ThreadPoolExecutor(WRITERS) as pool:
        for _ in pool.map(fn, items):  # re-raises the first failure
            pass
