"""One settings object, read from app settings (environment) and validated at start.

Every setting the app reads is listed here, documented in the README table and present
in local.settings.sample.json. The composition root (shared.composition) builds it once, at
start; nothing reads it lazily inside a request.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from shared.key_vaults import KnownVault, VaultSettingError, parse_vaults
from shared.loopback import is_loopback_url
from shared.notify.targets import WebhookTarget, parse_targets, redact
from shared.schedules import longest_gap
from shared.storage_account import StorageAccount, StorageSettingError


class SettingsError(ValueError):
    """An app setting is missing or malformed; raised at start, never per request."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# Azure Storage queue names: 3-63 lowercase letters, digits and single hyphens, no hyphen at either end.
_QUEUE_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
# A timer schedule as the Functions host reads it: six NCRONTAB fields, or a TimeSpan (hh:mm:ss).
_NCRONTAB_FIELD = re.compile(r"^[0-9A-Za-z*/,-]+$")
_TIMESPAN = re.compile(r"^(\d+\.)?\d{1,2}:\d{2}:\d{2}$")


@dataclass(frozen=True)
class Settings:
    storage: StorageAccount  # its repr hides the connection string (it holds the account key)
    key_vault_url: str
    key_vault_emulator_cert: Path | None
    table_prefix: str
    operations_queue: str
    auto_renew_schedule: str
    sync_sweep_schedule: str
    sync_sweep_interval_hours: int
    auto_sync_after_renewal: bool
    auto_renew_jitter_seconds: int
    local_ca_validity_days: int
    require_roles: bool
    acme_directory_url: str
    acme_contact: str
    acme_eab_kid: str
    acme_eab_hmac_key: str = field(repr=False)
    acme_ca_bundle: Path | None
    dns_provider: str
    azure_dns_subscription_id: str
    azure_dns_resource_group: str
    # More places to find DNS zones in: `sub/rg,sub2` (resource groups, or whole subscriptions).
    azure_dns_extra_scopes: tuple[AppServiceScope, ...] = ()
    # App Service connector (issue #12): the subscriptions (optionally narrowed to resource
    # groups) whose Microsoft.Web certificates and bindings certsync manages; empty: none.
    app_service_scopes: tuple[AppServiceScope, ...] = ()
    arm_endpoint: str = "https://management.azure.com"
    arm_emulator_cert: Path | None = None
    key_vault_resource_id: str = ""
    # Notifications (issue #15): webhook targets, and when a condition is worth a notification.
    webhooks: tuple[WebhookTarget, ...] = ()
    webhook_expiry_days: int = 14  # "expiring within N days without a successful renewal"
    webhook_out_of_sync_minutes: int = 60  # "a link out of sync for longer than T"
    webhook_cutoff_hours: int = 24  # a delivery retries until this long after its event, then fails
    acme_profile: str = ""  # the ACME profile of certificates that name none ("" = the CA's default)
    operation_retention_days: int = 30  # finished operations and deliveries older than this are deleted
    # Every vault a certificate may live in: KEY_VAULT_URL first (the default), then KEY_VAULT_URLS.
    vaults: tuple[KnownVault, ...] = ()

    @property
    def auto_renew_interval(self) -> timedelta:
        """The longest time between two auto_renew runs (the renewal policy plans for it)."""
        return longest_gap(self.auto_renew_schedule)

    @property
    def app_service_enabled(self) -> bool:
        return bool(self.app_service_scopes)

    @property
    def azure_dns_scopes(self) -> tuple[AppServiceScope, ...]:
        """Where DNS-01 looks for zones: AZURE_DNS_SUBSCRIPTION_ID/_RESOURCE_GROUP, then AZURE_DNS_ZONE_SCOPES."""
        first = (
            (AppServiceScope(self.azure_dns_subscription_id, self.azure_dns_resource_group),)
            if self.azure_dns_subscription_id and self.azure_dns_resource_group
            else ()
        )
        return first + tuple(s for s in self.azure_dns_extra_scopes if s not in first)

    @property
    def arm_is_local_emulator(self) -> bool:
        return is_loopback_url(self.arm_endpoint)

    def vault_named(self, value: str) -> KnownVault | None:
        """The configured vault with this URL (any spelling) or short name."""
        return next((v for v in self.vaults if v.answers_to(value)), None)

    @property
    def vault_is_local_emulator(self) -> bool:
        """The emulator's self-signed certificate is trusted only for a loopback vault URL."""
        return is_loopback_url(self.key_vault_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        try:
            storage = StorageAccount.from_env(env)
        except StorageSettingError as err:
            raise SettingsError(str(err)) from None
        settings = cls(
            storage=storage,
            key_vault_url=reader.url("KEY_VAULT_URL"),
            key_vault_emulator_cert=reader.path("KEY_VAULT_EMULATOR_CERT", ".data/keyvault/emulator-cert.pem"),
            table_prefix=reader.text("CERTSYNC_TABLE_PREFIX", "certsync"),
            # These three are also resolved by the host (%NAME% in the triggers): required, never defaulted.
            operations_queue=reader.queue_name("OPERATIONS_QUEUE"),
            auto_renew_schedule=reader.schedule("AUTO_RENEW_SCHEDULE"),
            sync_sweep_schedule=reader.schedule("SYNC_SWEEP_SCHEDULE"),
            sync_sweep_interval_hours=reader.integer("SYNC_SWEEP_INTERVAL_HOURS", 48, 1, 24 * 30),
            auto_sync_after_renewal=reader.boolean("AUTO_SYNC_AFTER_RENEWAL", True),
            auto_renew_jitter_seconds=reader.integer("AUTO_RENEW_JITTER_SECONDS", 300, 0, 600),
            local_ca_validity_days=reader.integer("LOCAL_CA_VALIDITY_DAYS", 365, 1, 397),
            require_roles=reader.boolean("REQUIRE_ROLES", False),
            acme_directory_url=reader.text("ACME_DIRECTORY_URL", ""),
            acme_contact=reader.text("ACME_CONTACT", ""),
            acme_eab_kid=reader.text("ACME_EAB_KID", ""),
            acme_eab_hmac_key=reader.text("ACME_EAB_HMAC_KEY", ""),
            acme_ca_bundle=reader.path("ACME_CA_BUNDLE", ""),
            dns_provider=reader.choice("DNS_PROVIDER", "azure", {"azure"}),
            azure_dns_subscription_id=reader.text("AZURE_DNS_SUBSCRIPTION_ID", ""),
            azure_dns_resource_group=reader.text("AZURE_DNS_RESOURCE_GROUP", ""),
            azure_dns_extra_scopes=parse_app_service_scopes(
                reader.text("AZURE_DNS_ZONE_SCOPES", ""), "AZURE_DNS_ZONE_SCOPES"
            ),
            app_service_scopes=parse_app_service_scopes(reader.text("APP_SERVICE_SUBSCRIPTIONS", "")),
            arm_endpoint=reader.url_or("ARM_ENDPOINT", "https://management.azure.com"),
            arm_emulator_cert=reader.path("ARM_EMULATOR_CERT", ".data/arm/emulator-cert.pem"),
            key_vault_resource_id=reader.text("KEY_VAULT_RESOURCE_ID", ""),
            webhooks=reader.webhooks("WEBHOOK_URL"),
            webhook_expiry_days=reader.integer("WEBHOOK_EXPIRY_DAYS", 14, 1, 396),
            webhook_out_of_sync_minutes=reader.integer("WEBHOOK_OUT_OF_SYNC_MINUTES", 60, 1, 60 * 24 * 30),
            webhook_cutoff_hours=reader.integer("WEBHOOK_CUTOFF_HOURS", 24, 1, 24 * 7),
            acme_profile=reader.text("ACME_PROFILE", ""),
            operation_retention_days=reader.integer("OPERATION_RETENTION_DAYS", 30, 1, 3650),
            vaults=reader.vaults(),
        )
        if not settings.table_prefix.isalnum() or not settings.table_prefix[0].isalpha():
            raise SettingsError("CERTSYNC_TABLE_PREFIX must be letters and digits, starting with a letter")
        if settings.app_service_enabled and not settings.key_vault_resource_id.lower().startswith("/subscriptions/"):
            raise SettingsError("APP_SERVICE_SUBSCRIPTIONS needs KEY_VAULT_RESOURCE_ID, the ARM id of the vault")
        if settings.app_service_enabled and not all(v.resource_id for v in settings.vaults):
            raise SettingsError(
                "APP_SERVICE_SUBSCRIPTIONS needs KEY_VAULT_RESOURCE_IDS, one ARM id per KEY_VAULT_URLS entry"
            )
        return settings


_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_GROUP = re.compile(r"^[-\w._()]{1,90}$")


@dataclass(frozen=True)
class AppServiceScope:
    """A managed subscription, or one resource group of it."""

    subscription: str
    resource_group: str = ""  # "": the whole subscription

    def covers(self, subscription: str, resource_group: str) -> bool:
        same_sub = subscription.lower() == self.subscription.lower()
        return same_sub and (not self.resource_group or resource_group.lower() == self.resource_group.lower())


def parse_app_service_scopes(raw: str, setting: str = "APP_SERVICE_SUBSCRIPTIONS") -> tuple[AppServiceScope, ...]:
    """`sub1,sub2/rg-a,sub2/rg-b`: whole subscriptions or resource groups of them."""
    scopes: list[AppServiceScope] = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        subscription, _, group = entry.partition("/")
        if not _GUID.fullmatch(subscription) or (group and not _GROUP.fullmatch(group)):
            raise SettingsError(
                f"{setting} entry {entry[:100]!r} must be a subscription id, optionally /resourceGroup"
            )
        scopes.append(AppServiceScope(subscription.lower(), group))
    return tuple(scopes)


@dataclass(frozen=True)
class _Reader:
    env: Mapping[str, str]

    def text(self, name: str, default: str) -> str:
        return self.env.get(name, default).strip() or default

    def required(self, name: str) -> str:
        value = self.env.get(name, "").strip()
        if not value:
            raise SettingsError(f"app setting {name} is required")
        return value

    def url(self, name: str) -> str:
        value = self.required(name).rstrip("/")
        parsed = urlparse(value)
        if parsed.scheme != "https" or not parsed.hostname:
            raise SettingsError(f"app setting {name} must be an https URL, got {redact(value)!r}")  # no SAS or path
        return value

    def vaults(self) -> tuple[KnownVault, ...]:
        """KEY_VAULT_URL and KEY_VAULT_URLS with their resource ids (shared.key_vaults has the rules)."""
        try:
            return parse_vaults(
                self.required("KEY_VAULT_URL"),
                self.text("KEY_VAULT_RESOURCE_ID", ""),
                self.text("KEY_VAULT_URLS", ""),
                self.text("KEY_VAULT_RESOURCE_IDS", ""),
            )
        except VaultSettingError as err:
            raise SettingsError(f"app setting {err}") from None

    def webhooks(self, name: str) -> tuple[WebhookTarget, ...]:
        try:
            return parse_targets(self.text(name, ""))
        except ValueError as err:  # the message shows scheme and host only, never a secret path
            raise SettingsError(f"app setting {name}: {err}") from None

    def queue_name(self, name: str) -> str:
        value = self.required(name)
        if not _QUEUE_NAME.match(value):
            raise SettingsError(
                f"app setting {name} must be a queue name (3-63 lowercase letters, digits, single hyphens), "
                f"got {value[:80]!r}"
            )
        return value

    def schedule(self, name: str) -> str:
        value = self.required(name)
        fields = value.split()
        if not (_TIMESPAN.match(value) or (len(fields) == 6 and all(_NCRONTAB_FIELD.match(f) for f in fields))):
            raise SettingsError(
                f"app setting {name} must be a six-field NCRONTAB expression such as '0 0 */8 * * *', "
                f"got {value[:80]!r}"
            )
        return value

    def url_or(self, name: str, default: str) -> str:
        return self.url(name) if self.env.get(name, "").strip() else default

    def path(self, name: str, default: str) -> Path | None:
        value = self.text(name, default)
        return Path(value) if value else None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.text(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"app setting {name} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"app setting {name} must be between {low} and {high}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name, str(default)).lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise SettingsError(f"app setting {name} must be true or false, got {raw!r}")

    def choice(self, name: str, default: str, allowed: set[str]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise SettingsError(f"app setting {name} must be one of {sorted(allowed)}, got {value!r}")
        return value


def max_dequeue_count(host_json: Path) -> int:
    """host.json extensions.queues.maxDequeueCount: the delivery after which the host gives a
    message up (poison queue), so the operation engine records failures on that delivery."""
    try:
        config = json.loads(host_json.read_text(encoding="utf-8"))
        value = config["extensions"]["queues"]["maxDequeueCount"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        reason = type(err).__name__
        raise SettingsError(f"{host_json.name}: extensions.queues.maxDequeueCount is required ({reason})") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"{host_json.name}: extensions.queues.maxDequeueCount must be a whole number >= 1")
    return value
