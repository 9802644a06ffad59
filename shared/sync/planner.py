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
from shared.errors import CertsyncError
from shared.model import Certificate, LinkedCertificate, SslBinding
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


def newest_known_thumbprint(cert: Certificate, links: Iterable[LinkedCertificate]) -> str:
    """The newest version anyone recorded for the secret: what certsync issued, or what a link
    saw later (a version written outside certsync). Key Vault times have whole seconds; on a tie
    a link's observation wins, since it read the latest version after that second's writes."""
    newest, thumbprint = cert.secret_updated_on, cert.thumbprint
    for link in links:
        seen = link.secret_updated_on
        if seen and link.thumbprint and (newest is None or int(seen.timestamp()) >= int(newest.timestamp())):
            newest, thumbprint = seen, link.thumbprint
    return thumbprint


def link_sync_state(link: LinkedCertificate, bindings: Iterable[SslBinding], newest_thumbprint: str) -> LinkSyncState:
    """A link is in sync only when it holds the newest known version and so do its bindings."""
    if link.last_sync_error:
        return LinkSyncState.FAILED
    if newest_thumbprint and link.thumbprint != newest_thumbprint:
        return LinkSyncState.BEHIND
    if any(b.link == link.name and b.thumbprint != link.thumbprint for b in bindings):
        return LinkSyncState.BINDINGS_BEHIND
    return LinkSyncState.IN_SYNC
