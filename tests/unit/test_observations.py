"""The recorded read of a secret's current version: when it is written, and what it makes known."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.model import Certificate, LinkedCertificate
from shared.observations import Observation, should_record, with_observation
from shared.sync.planner import KnownVersion, LinkSyncState, link_sync_state, newest_known, sync_error

T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
ISSUED = Certificate(name="c", hostnames=("a.test",), key_type="EC256", issuer="local", thumbprint="ISSUED",
                     secret_version="v1", secret_updated_on=T0)  # fmt: skip


def seen(version: str, thumbprint: str, updated: datetime, read: datetime, **kw) -> Observation:
    return Observation(version, thumbprint, updated, read, **kw)


def link(thumbprint: str = "ISSUED", version: str = "v1", seen_on: datetime = T0, **kw) -> LinkedCertificate:
    return LinkedCertificate(name="l", scope="rg", secret_id="https://v/secrets/c", thumbprint=thumbprint,
                             version=version, secret_updated_on=seen_on, last_checked_at=seen_on, **kw)  # fmt: skip


OUTSIDE = seen("v2", "OUTSIDE", T0 + timedelta(minutes=5), T0 + timedelta(minutes=6))


def test_a_version_written_outside_certsync_becomes_the_newest_known_at_its_first_read():
    assert should_record(ISSUED, OUTSIDE)
    cert = with_observation(ISSUED, OUTSIDE)
    assert newest_known(cert, [link()]) == KnownVersion("OUTSIDE", "v2")
    assert link_sync_state(link(), [], newest_known(cert, [link()])) is LinkSyncState.BEHIND


def test_reading_a_version_certsync_knows_writes_nothing():
    assert not should_record(ISSUED, seen("v1", "ISSUED", T0, T0 + timedelta(minutes=1)))
    cert = with_observation(ISSUED, OUTSIDE)
    assert not should_record(cert, seen("v2", "OUTSIDE", OUTSIDE.updated_on, OUTSIDE.read_at + timedelta(hours=1)))


@pytest.mark.parametrize(
    "later, recorded",
    [
        (seen("v1", "ISSUED", T0, T0 + timedelta(minutes=7)), False),  # an older version: a stale read
        (seen("v3", "NEWER", T0 + timedelta(minutes=9), T0 + timedelta(minutes=4)), False),  # read before the record
        (seen("v3", "NEWER", T0 + timedelta(minutes=9), T0 + timedelta(minutes=10)), True),
        # Key Vault's whole seconds cannot order two versions of one second: the later read wins.
        (seen("v3", "SAME", OUTSIDE.updated_on + timedelta(milliseconds=500), T0 + timedelta(minutes=7)), True),
        # The latest version was disabled since: the newest enabled one is older, and current.
        (seen("v1", "ISSUED", T0, T0 + timedelta(minutes=8), fell_back=True), True),
    ],
)
def test_the_record_never_moves_backwards(later, recorded):
    assert should_record(with_observation(ISSUED, OUTSIDE), later) is recorded


def test_an_issue_or_a_link_seen_after_the_observation_wins():
    cert = with_observation(ISSUED, OUTSIDE)
    renewed = replace(cert, thumbprint="RENEWED", secret_version="v3", secret_updated_on=T0 + timedelta(minutes=10))
    assert newest_known(renewed, []).thumbprint == "RENEWED"
    later = link("LATER", "v4", T0 + timedelta(minutes=20))
    assert newest_known(cert, [link(), later]).thumbprint == "LATER"
    same_second = link("LINKED", "v5", OUTSIDE.updated_on)  # a tie goes to the observation (the later reader)
    assert newest_known(cert, [same_second]).thumbprint == "OUTSIDE"


def test_a_fallback_read_well_after_an_issue_makes_the_older_version_current():
    later = T0 + timedelta(hours=1)
    disabled_latest = replace(ISSUED, thumbprint="DISABLED", secret_version="v3", secret_updated_on=later)
    fallback = seen("v1", "ISSUED", T0, T0 + timedelta(hours=2), fell_back=True)
    assert should_record(disabled_latest, fallback)
    assert newest_known(with_observation(disabled_latest, fallback), [link()]).thumbprint == "ISSUED"


@pytest.mark.parametrize("thumbprint", ["", "EXPIRED"])  # not a PFX at all, or one a sync refuses
def test_an_unusable_current_version_fails_the_links_that_do_not_hold_it(thumbprint):
    bad = seen("v2", thumbprint, T0 + timedelta(minutes=5), T0 + timedelta(minutes=6), error="Code: why")
    assert should_record(ISSUED, bad)
    newest = newest_known(with_observation(ISSUED, bad), [link()])
    assert link_sync_state(link(), [], newest) is LinkSyncState.FAILED and sync_error(link(), newest) == "Code: why"
    if thumbprint:  # a link that holds that very version is measured as usual
        holder = link(thumbprint, "v2", bad.updated_on)
        assert link_sync_state(holder, [], newest) is LinkSyncState.IN_SYNC and sync_error(holder, newest) == ""


def test_a_link_whose_last_sync_failed_reports_that_error_first():
    failed = link(last_sync_error="HostnameNotCovered: api.test")
    newest = KnownVersion("OUTSIDE", "v2", "WrongContentType: text/plain")
    assert sync_error(failed, newest) == "HostnameNotCovered: api.test"
