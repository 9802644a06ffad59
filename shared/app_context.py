"""The application context: the adapters every use case needs, built once from Settings.

shared.composition (the composition root) builds it at start; a Functions worker serves many
invocations, so clients are created once and reused. Issuers are built on first use, because
an unconfigured issuer must refuse its own requests without stopping the others.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from shared.appservice.client import AzureAppService
from shared.dns.base import DnsProvider
from shared.errors import BadRequest
from shared.issuers.acme import build_acme_issuer
from shared.issuers.local_ca import LocalCA
from shared.key_vaults import KnownVault
from shared.model import Certificate
from shared.ports import (
    AppService,
    BindingStore,
    CertificateStore,
    DeliveryStore,
    Issuer,
    LinkStore,
    OperationQueue,
    OperationStore,
    RevocationListStore,
    SecretStore,
    StorageHealth,
)
from shared.queueing import StorageOperationQueue
from shared.secret_refs import SecretRef, certificate_secret
from shared.settings import Settings
from shared.storage_clients import StorageClients
from shared.tables import (
    BindingRepository,
    CertificateRepository,
    DeliveryRepository,
    LinkRepository,
    OperationRepository,
    RevocationListRepository,
    TableStore,
)
from shared.vault import Vault, make_secret_client

ISSUER_NAMES = ("local", "acme")


@dataclass
class AppContext:
    """Everything a use case may touch, typed by the ports (shared/ports.py), so the fast test
    ring can compose the same use cases from in-memory fakes."""

    settings: Settings
    store: StorageHealth
    vault: SecretStore
    queue: OperationQueue
    certificates: CertificateStore
    links: LinkStore
    bindings: BindingStore
    operations: OperationStore
    open_vault: Callable[[str], SecretStore]  # a client for another vault, by its URL
    deliveries: DeliveryStore
    revocations: RevocationListStore  # the local CA's revoked serials (its CRL)
    dns: DnsProvider | None = None  # None: the provider the settings describe (Azure DNS)
    app_service: AppService | None = None  # set when APP_SERVICE_SUBSCRIPTIONS names any
    _vaults: dict[str, SecretStore] = field(default_factory=dict)
    _issuers: dict[str, Issuer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, *, dns: DnsProvider | None = None) -> AppContext:
        storage = StorageClients(settings.storage)
        store = TableStore(storage.table_service(), settings.table_prefix)
        vault = Vault(make_secret_client(settings))
        ctx = cls(
            settings=settings,
            store=store,
            vault=vault,
            queue=StorageOperationQueue(storage, settings.operations_queue),
            certificates=CertificateRepository(store),
            links=LinkRepository(store),
            bindings=BindingRepository(store),
            operations=OperationRepository(store),
            deliveries=DeliveryRepository(store),
            revocations=RevocationListRepository(store),
            open_vault=lambda url: Vault(make_secret_client(settings, vault_url=url)),
            dns=dns,
            app_service=AzureAppService.from_settings(settings) if settings.app_service_enabled else None,
        )
        ctx._vaults[_vault_key(settings.key_vault_url)] = vault
        return ctx

    def vault_for(self, vault_url: str) -> SecretStore:
        """Certificates live in any configured vault, links may reference secrets in others; one client per vault."""
        if self.settings.vaults and self.settings.vaults[0].answers_to(vault_url):
            return self.vault
        key = _vault_key(vault_url)
        with self._lock:
            if key not in self._vaults:
                self._vaults[key] = self.open_vault(key)
            return self._vaults[key]

    def secret_of(self, cert: Certificate) -> SecretRef:
        """A certificate's own secret, in the vault it named at creation (old rows: the default)."""
        return certificate_secret(self.vault.url, cert)

    def vault_of(self, cert: Certificate) -> SecretStore:
        """Every read and write of a certificate's secret goes to its own vault."""
        return self.vault_for(cert.vault) if cert.vault else self.vault

    def choose_vault(self, value: str) -> KnownVault:
        """A vault a new certificate names (URL or short name); "" is the default. 400 lists the choices."""
        vault = self.settings.vault_named(value) if value else self.settings.vaults[0]
        if vault is None:
            allowed = ", ".join(f"{v.name} ({v.url})" if v.name else v.url for v in self.settings.vaults)
            raise BadRequest(f"vault {value[:100]!r} is not configured; use one of: {allowed}", code="UnknownVault")
        return vault

    def issuer(self, name: str) -> Issuer:
        with self._lock:
            if name not in self._issuers:
                self._issuers[name] = self._build_issuer(name)
            return self._issuers[name]

    def local_ca(self) -> LocalCA:
        """The local CA itself (its root is published), not just an Issuer."""
        issuer = self.issuer("local")
        if not isinstance(issuer, LocalCA):
            raise TypeError("the local issuer is not the local CA")  # only a test could swap it
        return issuer

    def _build_issuer(self, name: str) -> Issuer:
        if name == "local":
            return LocalCA(
                self.vault, revocations=self.revocations, default_validity_days=self.settings.local_ca_validity_days
            )
        if name == "acme":
            if not self.settings.acme_directory_url:
                raise BadRequest("the acme issuer needs the ACME_DIRECTORY_URL app setting", code="IssuerNotConfigured")
            return build_acme_issuer(self.settings, self.vault, dns=self.dns)
        raise BadRequest(f"unknown issuer {name[:40]!r}; use one of {', '.join(ISSUER_NAMES)}", code="InvalidIssuer")


def _vault_key(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}"

