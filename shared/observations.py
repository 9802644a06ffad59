"""What certsync last read as a certificate's current secret version, recorded on its row.

Every read of the current version (the overview, a sync, the sweep) records what it saw, so a
version written to Key Vault outside certsync is known from its first read on, and the list
(Table data only) counts the same links out of sync as the overview. The write is ETag-checked,
never moves backwards (by Key Vault's "updated"; on a tie, or past a disabled latest version, the
later read wins), is skipped when it would change nothing certsync knows, and never fails the
read: a lost race re-reads, and stops when someone recorded the same or newer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from shared import pki
from shared.app_context import AppContext
from shared.clock import utcnow
from shared.errors import CertsyncError, PreconditionFailed
from shared.model import Certificate
from shared.ports import SecretStore
from shared.secret_refs import CurrentCertificate, latest_enabled, parse_version
from shared.sync.planner import newest_known
from shared.vault import SecretVersion

log = logging.getLogger("certsync.observations")
MAX_RECORD_TRIES = 3


@dataclass(frozen=True)
class Observation:
    version: str
    thumbprint: str  # "" when the version is not a readable PFX
    updated_on: datetime | None
    read_at: datetime
    error: str = ""  # why the version cannot be synced
    fell_back: bool = False  # the latest version was disabled; this is the newest enabled one


@dataclass(frozen=True)
class Reading:
    """One read of a secret's current version: the certificate, or the error a sync would meet."""

    current: CurrentCertificate | None
    error: CertsyncError | None
    owner: Certificate | None  # the certificate owning the secret, as it stands after the record


def read_current(ctx: AppContext, vault: SecretStore, secret_name: str, owner: Certificate | None) -> Reading:
    """Read the latest enabled version (one GET; more only past a disabled one) and record it on
    `owner`, the certificate whose secret this is (None: nothing to record on)."""
    try:
        version, fell_back = latest_enabled(vault, secret_name)
    except CertsyncError as err:
        return Reading(None, err, owner)  # no version to speak of: the sync records the error on its links
    return read_version(ctx, version, fell_back, owner)


def read_version(ctx: AppContext, version: SecretVersion, fell_back: bool, owner: Certificate | None) -> Reading:
    """Parse a version just read as the latest enabled one, and record it on `owner`."""
    read_at = utcnow()
    try:
        current = parse_version(version, fell_back)
    except CertsyncError as err:
        seen = Observation(version.version, "", version.updated_on, read_at, describe(err), fell_back)
        return Reading(None, err, owner and record_observation(ctx, owner, seen))
    seen = Observation(
        version.version, current.thumbprint, version.updated_on, read_at, _unusable(current, read_at), fell_back
    )
    return Reading(current, None, owner and record_observation(ctx, owner, seen))


def describe(err: CertsyncError) -> str:
    return f"{err.code}: {err.message}"[:1000]


def _unusable(current: CurrentCertificate, now: datetime) -> str:
    """What every link's sync would refuse (expired, not yet valid, key mismatch); a hostname a
    binding needs is the link's own check."""
    try:
        pki.check_usable(current.bundle, [], now)
    except CertsyncError as err:
        return describe(err)
    return ""


def record_observation(ctx: AppContext, cert: Certificate, seen: Observation) -> Certificate:
    """The certificate with `seen` recorded, or as someone else recorded the same or newer.
    A Table failure is logged and the observation kept in memory only: the read goes on."""
    for _ in range(MAX_RECORD_TRIES):
        if not should_record(cert, seen):
            return cert
        try:
            return ctx.certificates.save(with_observation(cert, seen))
        except PreconditionFailed:
            fresh = _reread(ctx, cert)
            if fresh is None:
                break
            cert = fresh
        except CertsyncError as err:
            log.warning("could not record the version read of %s: %s", cert.name, err.code)
            break
    return with_observation(cert, seen) if should_record(cert, seen) else cert


def _reread(ctx: AppContext, cert: Certificate) -> Certificate | None:
    try:
        return ctx.certificates.find(cert.name)
    except CertsyncError as err:
        log.warning("could not re-read %s to record a version read: %s", cert.name, err.code)
        return None


def should_record(cert: Certificate, seen: Observation) -> bool:
    """Pure: `seen` is not older than what is recorded, and recording it changes what certsync
    knows as the secret's newest version (so a read of a known version writes nothing)."""
    if not _supersedes(cert, seen):
        return False
    return newest_known(with_observation(cert, seen), []) != newest_known(cert, [])


def _supersedes(cert: Certificate, seen: Observation) -> bool:
    if not cert.observed_version:
        return True
    if cert.observed_at is not None and seen.read_at <= cert.observed_at:
        return False  # an earlier look never replaces a later one
    if seen.fell_back or cert.observed_updated_on is None or seen.updated_on is None:
        return True
    return int(seen.updated_on.timestamp()) >= int(cert.observed_updated_on.timestamp())


def with_observation(cert: Certificate, seen: Observation) -> Certificate:
    return replace(
        cert,
        observed_version=seen.version,
        observed_thumbprint=seen.thumbprint,
        observed_updated_on=seen.updated_on,
        observed_at=seen.read_at,
        observed_error=seen.error,
    )
