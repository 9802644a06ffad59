"""Table-driven tests for the pure decisions of auto-renew and the sweep."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.auto_renew import is_renewal_due
from shared.model import Certificate, CertificateStatus, LinkedCertificate
from shared.secret_refs import SecretRef
from shared.sweep import SecretGroup, _needs_sync, full_check_due
from shared.vault import SecretVersion

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def cert(**kw) -> Certificate:
    base = dict(name="c", hostnames=("a.example.com",), key_type="RSA2048", issuer="local", secret_version="v1",
                status=CertificateStatus.ISSUED, renewal_due_at=NOW - DAY, not_after=NOW + 30 * DAY)  # fmt: skip
    base.update(kw)
    return Certificate(**base)


@pytest.mark.parametrize(
    "changes,due",
    [
        ({}, True),
        ({"renewal_due_at": NOW + DAY}, False),  # not yet
        ({"auto_renew": False}, False),  # turned off
        ({"secret_version": ""}, False),  # never issued
        ({"status": CertificateStatus.FAILED, "secret_version": ""}, False),
        ({"status": CertificateStatus.EXPIRED}, True),  # expired still gets renewed
        ({"renewal_due_at": None}, False),
    ],
)
def test_is_renewal_due(changes, due):
    assert is_renewal_due(cert(**changes), NOW) is due


def link(name="l", seen=NOW - DAY, error="", checked=NOW - DAY / 2) -> LinkedCertificate:
    return LinkedCertificate(name=name, scope="rg", secret_id="https://v/secrets/s", version="v1",
                             secret_updated_on=seen, last_sync_error=error, last_checked_at=checked)  # fmt: skip


def latest(updated=NOW - DAY, enabled=True) -> SecretVersion:
    """List results carry no version (as in real Key Vault): "updated" is the change signal."""
    return SecretVersion(name="s", version="", id="", content_type=None, enabled=enabled, updated_on=updated)


@pytest.mark.parametrize(
    "links,meta,needs",
    [
        ([link()], latest(), False),  # in sync: nothing fetched, nothing written
        ([link(), link("m", seen=NOW - 2 * DAY)], latest(), True),  # one link behind
        ([link(seen=(NOW - DAY).replace(microsecond=999))], latest(), False),  # milliseconds vs seconds
        ([link()], latest(NOW), True),  # new version written outside certsync
        ([link()], None, True),  # secret deleted
        ([link()], latest(enabled=False), True),  # latest disabled: resolve to newest enabled
        ([link(error="SecretNotFound: x")], latest(), True),  # retry a failing link
        ([link(checked=NOW - 3 * DAY, seen=NOW - 4 * DAY)], latest(NOW - 4 * DAY), True),  # full verification due
        ([link(checked=NOW - DAY)], latest(), True),  # looked in the same second it was written: look again
    ],
)
def test_needs_sync(links, meta, needs):
    group = SecretGroup(SecretRef("https://v", "s"), links)
    assert _needs_sync(group, meta, NOW, timedelta(hours=48)) is needs


def test_full_checks_spread_over_the_last_quarter_of_the_interval():
    interval = timedelta(hours=48)
    names = [f"link-{i}" for i in range(200)]
    assert not any(full_check_due(link(n, checked=NOW - interval * 0.74), NOW, interval) for n in names)
    assert all(full_check_due(link(n, checked=NOW - interval), NOW, interval) for n in names)
    halfway = [full_check_due(link(n, checked=NOW - interval * 0.875), NOW, interval) for n in names]
    assert 0 < sum(halfway) < len(names)  # spread, not a burst


@pytest.mark.parametrize(
    "changes,resume",
    [
        ({"secret_version": "", "status": CertificateStatus.PENDING_ISSUANCE}, True),  # stalled first issuance
        ({"secret_version": "", "status": CertificateStatus.FAILED}, True),  # failed, backoff passed
        ({"secret_version": "", "status": CertificateStatus.FAILED, "renewal_due_at": NOW + DAY}, False),  # backing off
        ({"secret_version": "", "status": CertificateStatus.FAILED, "auto_renew": False}, False),
        ({}, False),  # issued: renewals, not resumptions
    ],
)
def test_first_issuance_to_resume(changes, resume):
    from shared.auto_renew import first_issuance_to_resume

    assert first_issuance_to_resume(cert(**changes), NOW) is resume


@pytest.mark.parametrize(
    "url,emulator,allowed",
    [
        ("https://contoso.vault.azure.net/secrets/x", False, True),
        ("https://contoso.vault.azure.cn/secrets/x", False, True),
        ("https://evil.example.com/secrets/x", False, False),  # never send our token elsewhere
        ("https://vault.azure.net.evil.com/secrets/x", False, False),
        ("https://127.0.0.1:8443/secrets/x", True, True),  # the local emulator, in development
        ("https://127.0.0.1:8443/secrets/x", False, False),  # but not when the app runs against Azure
    ],
)
def test_links_only_reach_key_vault_hosts(url, emulator, allowed):
    from shared.errors import BadRequest
    from shared.secret_refs import check_vault_host, parse_secret_id

    ref = parse_secret_id(url)
    if allowed:
        check_vault_host(ref, emulator)
    else:
        with pytest.raises(BadRequest):
            check_vault_host(ref, emulator)
