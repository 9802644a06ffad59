"""An AppContext composed from the fakes, and a worker loop that delivers queued operations
the way the Functions host does (redelivery after a failure, poison after five attempts)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.app_context import AppContext
from shared.clock import utcnow
from shared.composition import build_engine
from shared.model import Operation
from shared.queueing import parse_message, parse_trace_context
from shared.settings import Settings
from tests.fakes.appservice import FakeAppService
from tests.fakes.hooks import Hooks
from tests.fakes.queue import FakeQueue
from tests.fakes.tables import (
    FakeBindingStore,
    FakeCertificateStore,
    FakeDeliveryStore,
    FakeLinkStore,
    FakeOperationStore,
    FakeRevocationListStore,
    FakeStorageHealth,
)
from tests.fakes.vault import FakeVault

VAULT_URL = "https://fake.vault.azure.net"
ENGINE = build_engine()  # the handlers and the last delivery (host.json) the app composes at start
APP_SETTINGS = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "KEY_VAULT_URL": VAULT_URL,
    "OPERATIONS_QUEUE": "certsync-operations",
    "AUTO_RENEW_SCHEDULE": "0 0 */8 * * *",
    "SYNC_SWEEP_SCHEDULE": "0 */15 * * * *",
}


@dataclass
class Fakes:
    """The composed context plus typed handles on its fakes, for scripting and inspection."""

    ctx: AppContext
    hooks: Hooks
    vault: FakeVault
    queue: FakeQueue
    certificates: FakeCertificateStore
    links: FakeLinkStore
    bindings: FakeBindingStore
    operations: FakeOperationStore
    deliveries: FakeDeliveryStore
    revocations: FakeRevocationListStore
    other_vaults: dict[str, FakeVault] = field(default_factory=dict)
    app_service: FakeAppService | None = None

    def vault_at(self, url: str) -> FakeVault:
        """Another vault, as links to secrets outside certsync's own vault reach it."""
        key = url.rstrip("/")
        if key not in self.other_vaults:
            self.other_vaults[key] = FakeVault(key, clock=self.vault.clock, hooks=self.hooks)
        return self.other_vaults[key]


def fake_context(*, vault_clock: Callable[[], datetime] = utcnow, **app_settings: str) -> Fakes:
    """The app as composed at start, on fakes; `vault_clock` stamps Key Vault's "updated"."""
    env = {**APP_SETTINGS, **app_settings}
    settings = Settings.from_env(env)
    hooks = Hooks()
    vault = FakeVault(settings.key_vault_url, clock=vault_clock, hooks=hooks)
    stores = FakeCertificateStore(hooks), FakeLinkStore(hooks), FakeBindingStore(hooks), FakeOperationStore(hooks)
    queue = FakeQueue()
    deliveries = FakeDeliveryStore(hooks)
    revocations = FakeRevocationListStore(hooks)
    holder: list[Fakes] = []
    ctx = AppContext(
        settings=settings,
        store=FakeStorageHealth(),
        vault=vault,
        queue=queue,
        certificates=stores[0],
        links=stores[1],
        bindings=stores[2],
        operations=stores[3],
        open_vault=lambda url: holder[0].vault_at(url),
        deliveries=deliveries,
        revocations=revocations,
    )
    ctx._vaults[settings.key_vault_url] = vault
    if settings.app_service_enabled:
        ctx.app_service = FakeAppService(vault, settings.key_vault_resource_id)
    fakes = Fakes(ctx, hooks, vault, queue, *stores, deliveries, revocations, app_service=ctx.app_service)
    holder.append(fakes)
    for known in settings.vaults[1:]:  # every configured vault, as ARM knows it
        if fakes.app_service is not None and known.resource_id:
            fakes.app_service.add_vault(known.resource_id, fakes.vault_at(known.url))
    return fakes


def deliver_one(fakes: Fakes, *, max_attempts: int = ENGINE.last_delivery) -> Operation | None:
    """One delivery of the next queued message, as the host does it: an exception leaves the
    message for redelivery, the last allowed attempt removes it either way."""
    message = fakes.queue.receive(ignore_delay=True)
    if message is None:
        return None
    op_id = parse_message(message.body)
    try:
        engine = replace(ENGINE, last_delivery=max_attempts)
        result = engine.run(fakes.ctx, op_id, delivery=message.dequeue_count, trace=parse_trace_context(message.body))
    except Exception:
        if message.dequeue_count >= max_attempts:
            fakes.queue.complete(message)
        raise
    fakes.queue.complete(message)
    return result


def drain(fakes: Fakes, *, limit: int = 100) -> list[Operation]:
    """Deliver until the queue is empty; returns the operations as each delivery left them."""
    done: list[Operation] = []
    for _ in range(limit):
        if not fakes.queue.messages:
            return done
        op = deliver_one(fakes)
        if op is not None:
            done.append(op)
    raise AssertionError(f"the queue did not drain in {limit} deliveries")
