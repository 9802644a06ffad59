"""Sync decisions, pure: given a link, its bindings and the secret's current version, which
rows to write and why. No I/O, so the same plan serves links and bindings read from Table rows
today and from Azure Resource Manager later; the executor carries the writes out.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from shared import pki
from shared.errors import BadRequest, CertsyncError
from shared.model import Certificate, LinkedCertificate, SslBinding
from shared.revocation import revoked_message
from shared.secret_refs import CurrentCertificate


class Reason(StrEnum):
    """Why a plan writes what it writes (or nothing)."""

    IN_SYNC = "InSync"  # nothing to write
    NEW_VERSION = "NewVersion"  # the link moves to the secret's current version
    REFRESHED = "Refreshed"  # same certificate; what the link saw (time, error) is updated
    CHECKED = "Checked"  # the periodic full verification passed and is recorded
    BINDINGS_BEHIND = "BindingsBehind"  # only bindings lag their link
    UNUSABLE = "Unusable"  # the version fails a check: record the error, move nothing
    STALE_READ = "StaleRead"  # the link already holds a newer version than the one read


@dataclass(frozen=True)
class SyncPlan:
    reason: Reason
    link: LinkedCertificate | None = None  # the link as it should be written; None: no link write
    bindings: tuple[SslBinding, ...] = ()  # bindings to write, each at the link's thumbprint
    error: CertsyncError | None = None

    @property
    def target_thumbprint(self) -> str | None:
        return self.link.thumbprint if self.link else None


def plan_sync(
    link: LinkedCertificate,
    bindings: Iterable[SslBinding],
    current: CurrentCertificate,
    now: datetime,
    *,
    record_check: bool = False,
    read_after_link: bool = True,
) -> SyncPlan:
    """The writes that bring `link` and its `bindings` to `current`.

    `read_after_link` says whether `current` was read after `link`: a version read earlier may be
    older than what the link holds by now, and then the plan is to read the secret again.
    """
    bound = [b for b in bindings if b.link == link.name]
    try:
        pki.check_usable(current.bundle, [b.hostname for b in bound], now)
    except CertsyncError as err:
        return SyncPlan(Reason.UNUSABLE, error=err)
    if current.revoked is not None:  # never bind a revoked certificate (nor move a link onto one)
        return SyncPlan(Reason.UNUSABLE, error=BadRequest(revoked_message(current.revoked), code="CertificateRevoked"))
    if not read_after_link and holds_newer(link, current):
        return SyncPlan(Reason.STALE_READ)
    moved, reason = _moved_link(link, current, now, record_check)
    lagging = plan_bindings(moved or link, bound, now)
    if reason is Reason.IN_SYNC and lagging:
        reason = Reason.BINDINGS_BEHIND
    return SyncPlan(reason, moved, lagging)


def plan_bindings(link: LinkedCertificate, bindings: Iterable[SslBinding], now: datetime) -> tuple[SslBinding, ...]:
    """The bindings of `link` that do not serve its thumbprint, as they should be written."""
    return tuple(
        replace(b, thumbprint=link.thumbprint, updated_at=now)
        for b in bindings
        if b.link == link.name and b.thumbprint != link.thumbprint
    )


def _moved_link(
    link: LinkedCertificate, current: CurrentCertificate, now: datetime, record_check: bool
) -> tuple[LinkedCertificate | None, Reason]:
    seen = current.version.updated_on
    unchanged = link.thumbprint == current.thumbprint and link.version == current.version.version
    if unchanged and same_instant(link.secret_updated_on, seen) and not link.last_sync_error:
        return (replace(link, last_checked_at=now), Reason.CHECKED) if record_check else (None, Reason.IN_SYNC)
    moved = replace(link, secret_updated_on=seen, last_sync_error="", last_checked_at=now)
    if unchanged:
        return moved, Reason.REFRESHED
    moved.thumbprint, moved.version = current.thumbprint, current.version.version
    moved.not_after, moved.hostnames = current.bundle.not_after, pki.dns_names(current.bundle.certificate)
    moved.last_synced_at = now
    return moved, Reason.NEW_VERSION


def holds_newer(link: LinkedCertificate, current: CurrentCertificate) -> bool:
    """May the link already hold a version newer than the one read? Key Vault's "updated" has
    whole seconds, so two versions of the same second cannot be ordered: a tie counts as newer
    (the caller reads the secret once more rather than risk moving the link backwards)."""
    seen = current.version.updated_on
    return (
        link.version != current.version.version
        and link.secret_updated_on is not None
        and seen is not None
        and int(link.secret_updated_on.timestamp()) >= int(seen.timestamp())
    )


def same_instant(a: datetime | None, b: datetime | None) -> bool:
    """Key Vault reports whole seconds; Table Storage keeps milliseconds."""
    if a is None or b is None:
        return a is b
    return int(a.timestamp()) == int(b.timestamp())


# --- sync state: one meaning for "in sync", shared by the certificate list and its overview ---


class LinkSyncState(StrEnum):
    IN_SYNC = "InSync"
    BEHIND = "Behind"  # the link does not hold the newest version certsync knows of
    BINDINGS_BEHIND = "BindingsBehind"  # the link does, some of its bindings still serve another
    FAILED = "SyncFailed"  # the last sync of the link failed (lastSyncError)


@dataclass(frozen=True)
class KnownVersion:
    """The newest version certsync knows of for a secret, and why it cannot be synced, if so."""

    thumbprint: str  # "" when that version is not a readable PFX
    version: str = ""
    error: str = ""


def newest_known(cert: Certificate, links: Iterable[LinkedCertificate]) -> KnownVersion:
    """The newest version anyone recorded for the secret: what certsync issued, what a link saw
    later, or what certsync last read as the secret's current version (cert.observed_*), which
    is how a version written outside certsync becomes known at its first read. Key Vault times
    have whole seconds. On a tie certsync's own issue wins over a link (a renewal in the second a
    link saw the previous version is the newer one; a link holding an out-of-band version of that
    same second is corrected by the next read, which records an observation), a link over
    another link, and the observation, a read of the current version, over both."""
    newest, known_at = cert.secret_updated_on, cert.secret_updated_on
    best, from_link = KnownVersion(cert.thumbprint, cert.secret_version), False
    for link in links:
        seen = link.secret_updated_on
        if not (seen and link.thumbprint):
            continue
        tie = newest is not None and _second(seen) == _second(newest)
        if newest is None or _second(seen) > _second(newest) or (tie and from_link):
            newest, known_at, from_link = seen, link.last_checked_at or seen, True
            best = KnownVersion(link.thumbprint, link.version)
    if cert.observed_version and _observation_wins(cert, newest, known_at):
        best = KnownVersion(cert.observed_thumbprint, cert.observed_version, cert.observed_error)
    return best


def newest_known_thumbprint(cert: Certificate, links: Iterable[LinkedCertificate]) -> str:
    return newest_known(cert, links).thumbprint


def _observation_wins(cert: Certificate, newest: datetime | None, known_at: datetime | None) -> bool:
    """Newer or as new by Key Vault's time; or older, but read well after the rest was known:
    the latest version was disabled since, and the observation is the newest enabled one."""
    observed, read_at = cert.observed_updated_on, cert.observed_at
    if newest is None or observed is None or _second(observed) >= _second(newest):
        return True
    return read_at is not None and known_at is not None and _second(read_at) > _second(known_at) + 1


def _second(moment: datetime) -> int:
    return int(moment.timestamp())


def link_sync_state(
    link: LinkedCertificate, bindings: Iterable[SslBinding], newest: KnownVersion | str
) -> LinkSyncState:
    """A link is in sync only when it holds the newest known version and so do its bindings; a
    link that does not hold it because it cannot be synced (`newest.error`) has failed."""
    newest = newest if isinstance(newest, KnownVersion) else KnownVersion(newest)
    if link.last_sync_error:
        return LinkSyncState.FAILED
    if newest.error and not holds(link, newest):
        return LinkSyncState.FAILED
    if newest.thumbprint and link.thumbprint != newest.thumbprint:
        return LinkSyncState.BEHIND
    if any(b.link == link.name and b.thumbprint != link.thumbprint for b in bindings):
        return LinkSyncState.BINDINGS_BEHIND
    return LinkSyncState.IN_SYNC


def holds(link: LinkedCertificate, newest: KnownVersion) -> bool:
    return bool(newest.thumbprint) and link.thumbprint == newest.thumbprint


def sync_error(link: LinkedCertificate, newest: KnownVersion) -> str:
    """Why the link is not in sync and a sync cannot fix it: its last sync's error, or the error a
    sync would meet on the newest version."""
    return link.last_sync_error or ("" if holds(link, newest) else newest.error)
