"""Domain model: certificates, linked certificates, SSL bindings and operations.

Plain dataclasses with no I/O; the repositories in tables.py map them to Table rows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.errors import BadRequest

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
APP_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,59}$")
SCOPE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.()-]{0,88}[A-Za-z0-9_()-]$|^[A-Za-z0-9]$")


class CertificateStatus(StrEnum):
    PENDING_ISSUANCE = "PendingIssuance"
    ISSUED = "Issued"
    RENEWING = "Renewing"
    REKEYING = "Rekeying"
    FAILED = "Failed"
    EXPIRED = "Expired"
    REVOKING = "Revoking"  # a revoke operation holds the claim while the CA revokes
    REVOKED = "Revoked"  # the current version is revoked (until a renewal replaces it)


class SslState(StrEnum):
    SNI = "SniEnabled"
    IP = "IpBasedEnabled"


class OperationStatus(StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class OperationKind(StrEnum):
    ISSUE = "issue"
    RENEW = "renew"
    REKEY = "rekey"
    SYNC_LINK = "syncLink"
    SYNC_CERTIFICATE = "syncCertificate"
    EXPORT = "export"
    SWEEP = "sweep"  # one unit of the sync sweep: a vault's links, or the binding repair pass
    DELIVER_WEBHOOK = "deliverWebhook"  # one attempt to deliver a notification to one webhook
    REVOKE = "revoke"  # the CA revokes one version; a renewal follows when auto-renew is on


class DeliveryStatus(StrEnum):
    PENDING = "Pending"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class RevokedVersion:
    """A version of a certificate its CA revoked, as recorded when the CA confirmed it."""

    version: str  # the Key Vault secret version
    thumbprint: str
    serial: str  # hex, as Certificate.serial
    reason: str  # an RFC 5280 CRLReason name (shared.revocation.Reason)
    revoked_at: datetime
    operation: str = ""  # the revoke operation that recorded it


@dataclass(frozen=True)
class RevokedSerial:
    """One entry of the local CA's revocation list."""

    serial: str  # uppercase hex
    reason: str  # an RFC 5280 CRLReason name
    revoked_at: datetime
    not_after: datetime  # the certificate's; an entry may leave the list once it has expired


@dataclass
class RevocationList:
    """What the local CA's CRL is built from: the revoked serials, and the number and time of the
    CRL they were last issued as. One Table row, written with its ETag, so every instance serves
    the same list and a CRL number is never handed out twice."""

    number: int = 0  # RFC 5280 cRLNumber of the last issue; 0 = never issued
    this_update: datetime | None = None
    entries: tuple[RevokedSerial, ...] = ()
    etag: str = field(default="", compare=False, repr=False)


@dataclass
class Certificate:
    """What App Service calls an App Service Certificate order."""

    name: str
    hostnames: tuple[str, ...]
    key_type: str
    issuer: str
    auto_renew: bool = True
    status: CertificateStatus = CertificateStatus.PENDING_ISSUANCE
    validity_days: int | None = None
    reuse_key: bool = False
    # The vault holding its secret (https://host[:port], as secret ids spell it), named at creation
    # and never changed; "" (rows older than several vaults) is the default vault, KEY_VAULT_URL.
    vault: str = ""
    secret_name: str = ""
    secret_version: str = ""
    secret_updated_on: datetime | None = None  # when certsync wrote that version
    thumbprint: str = ""
    sha256: str = ""
    serial: str = ""
    not_before: datetime | None = None
    not_after: datetime | None = None
    renewal_due_at: datetime | None = None
    renew_before_days: int | None = None
    profile: str = ""  # the ACME profile orders name (draft-aaron-acme-profiles); "" = the CA's default
    ari_id: str = ""  # RFC 9773 certificate identifier of the current version ("" = issuer offers no ARI)
    ari_window: tuple[datetime, datetime] | None = None  # the CA's suggested renewal window, as last read
    ari_next_poll_at: datetime | None = None  # not before this (the renewalInfo answer's Retry-After)
    failure_count: int = 0
    last_error: str = ""
    active_operation: str = ""
    created_at: datetime | None = None
    # The secret's current version as certsync last read it (overview, sync, sweep), whoever wrote
    # it: a version written outside certsync is known from its first read on.
    observed_version: str = ""
    observed_thumbprint: str = ""  # "" when that version is not a readable PFX
    observed_updated_on: datetime | None = None  # that version's "updated" in Key Vault
    observed_at: datetime | None = None  # when certsync read it
    observed_error: str = ""  # why that version cannot be synced ("" when it can)
    revoked: tuple[RevokedVersion, ...] = ()  # oldest first
    etag: str = field(default="", compare=False, repr=False)

    @property
    def has_been_issued(self) -> bool:
        return bool(self.secret_version)

    def revocation_of(self, thumbprint: str) -> RevokedVersion | None:
        """The record of this thumbprint's revocation, if it was revoked."""
        return next((r for r in self.revoked if thumbprint and r.thumbprint == thumbprint), None)

    @property
    def current_revoked(self) -> bool:
        """Is the version the certificate serves now a revoked one?"""
        return any(r.version == self.secret_version for r in self.revoked) if self.secret_version else False


@dataclass
class LinkedCertificate:
    """A private certificate an app imported from a Key Vault secret (usually a certificate's)."""

    name: str
    scope: str
    secret_id: str  # https://vault/secrets/name (no version): the link follows the latest version
    certificate: str = ""  # the certsync certificate whose secret this is, if any
    thumbprint: str = ""
    version: str = ""
    secret_updated_on: datetime | None = None  # the secret's "updated" as last seen: the sweep's change signal
    not_after: datetime | None = None
    hostnames: tuple[str, ...] = ()
    last_synced_at: datetime | None = None
    last_checked_at: datetime | None = None
    last_sync_error: str = ""
    # Set when the link indexes a Microsoft.Web/certificates resource in Azure Resource Manager,
    # which is then the truth for thumbprint and status; "" for a link kept in certsync alone.
    resource_id: str = ""
    server_farm_id: str = ""
    secret_status: str = ""  # App Service's keyVaultSecretStatus as last read
    etag: str = field(default="", compare=False, repr=False)


@dataclass
class SslBinding:
    app: str
    hostname: str
    link: str
    thumbprint: str
    ssl_state: SslState = SslState.SNI
    updated_at: datetime | None = None
    slot: str = ""  # a deployment slot of the app ("" for production); ARM bindings only
    resource_group: str = ""  # the app's resource group; ARM bindings only
    etag: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class BindingIndexEntry:
    """An index row, "link `link` has a binding at app/hostname", as last written; readers
    verify it against the binding, since a binding may have moved or gone since."""

    link: str
    app: str
    hostname: str
    written_at: datetime | None
    etag: str


@dataclass
class Operation:
    """A unit of background work a person can leave and come back to."""

    id: str
    kind: OperationKind
    target: str
    status: OperationStatus = OperationStatus.QUEUED
    created_at: datetime | None = None
    updated_at: datetime | None = None
    error_code: str = ""
    error_message: str = ""
    parameters: dict = field(default_factory=dict)  # never secret material
    result: dict = field(default_factory=dict)
    requested_by: str = ""
    etag: str = field(default="", compare=False, repr=False)
    final_attempt: bool = field(default=True, compare=False, repr=False)  # set per delivery, never stored


@dataclass
class Delivery:
    """One event for one webhook: written before it is sent, so nothing is lost while a receiver
    is down. `id` starts with the event id (the idempotency key every attempt carries)."""

    id: str
    event_id: str
    event_type: str
    subject: str  # the certificate or link the event is about
    webhook: str  # the target's scheme and host only (its path may be a secret)
    target_key: str  # which configured target (shared.notify.targets.WebhookTarget.key)
    payload: dict  # the event as recorded: id, type, time, subject, data
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    last_error: str = ""
    operation: str = ""  # the operation that makes the next attempt
    created_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    etag: str = field(default="", compare=False, repr=False)


def validate_name(value: object, what: str = "name", pattern: re.Pattern[str] = NAME_PATTERN) -> str:
    """Names become Table keys and Key Vault secret names, so they are checked strictly."""
    rule = "use lowercase letters, digits and hyphens, starting with a letter or digit, at most 63 characters"
    return _checked(value, pattern, what, rule, "InvalidName")


def validate_app(value: object) -> str:
    rule = "letters, digits and hyphens, at most 60 characters"
    return _checked(value, APP_PATTERN, "app name", rule, "InvalidAppName")


def validate_scope(value: object) -> str:
    return _checked(value, SCOPE_PATTERN, "scope", "a resource group name (letters, digits, . _ - ( ))", "InvalidScope")


def _checked(value: object, pattern: re.Pattern[str], what: str, rule: str, code: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadRequest(f"{what} {repr(value)[:80]} is invalid: {rule}", code=code)
    return value
