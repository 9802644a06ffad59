"""Table-driven tests for the sync planner and the one meaning of "in sync"."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from shared import pki
from shared.model import Certificate, LinkedCertificate, SslBinding
from shared.secret_refs import CurrentCertificate
from shared.sync.planner import LinkSyncState, Reason, link_sync_state, newest_known_thumbprint, plan_sync
from shared.vault import SecretVersion

NOW = datetime.now(UTC).replace(microsecond=0)
SEEN = NOW - timedelta(hours=1)


@pytest.fixture(scope="module")
def current() -> CurrentCertificate:
    """A self-signed certificate for www.contoso.test, valid now, as the secret's current version."""
    key = pki.generate_private_key(pki.KeyType.EC256)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.contoso.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.contoso.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    version = SecretVersion(name="cert-c", version="v2", id="", content_type=None, enabled=True, updated_on=SEEN)
    bundle = pki.CertificateBundle(private_key=key, certificate=cert, chain=())
    return CurrentCertificate(version=version, bundle=bundle)


def link(**kw) -> LinkedCertificate:
    base = dict(name="l", scope="rg", secret_id="https://v/secrets/cert-c", thumbprint="OLD", version="v1",
                secret_updated_on=SEEN - timedelta(days=1))  # fmt: skip
    return LinkedCertificate(**{**base, **kw})


def binding(thumbprint: str, host: str = "www.contoso.test", link_name: str = "l") -> SslBinding:
    return SslBinding("web", host, link_name, thumbprint)


def in_sync_link(current: CurrentCertificate, **kw) -> LinkedCertificate:
    return link(thumbprint=current.thumbprint, version="v2", secret_updated_on=SEEN, **kw)


@pytest.mark.parametrize(
    "case, expected, link_writes, binding_writes",
    [
        ("new version, one binding", Reason.NEW_VERSION, True, 1),
        ("in sync", Reason.IN_SYNC, False, 0),
        ("in sync, periodic check", Reason.CHECKED, True, 0),
        ("link moved, bindings not (a sync cut short)", Reason.BINDINGS_BEHIND, False, 1),
        ("same certificate, old error", Reason.REFRESHED, True, 0),
        ("binding of another link", Reason.NEW_VERSION, True, 0),
        ("hostname not covered", Reason.UNUSABLE, False, 0),
        ("link holds newer than read", Reason.STALE_READ, False, 0),
        ("link holds another version of the same second", Reason.STALE_READ, False, 0),
        ("same second, read after the link", Reason.NEW_VERSION, True, 1),
    ],
)
def test_plan_sync(current, case, expected, link_writes, binding_writes):
    held, bindings, record, after = link(), [binding("OLD")], False, True
    if case == "in sync":
        held, bindings = in_sync_link(current), [binding(current.thumbprint)]
    elif case == "in sync, periodic check":
        held, bindings, record = in_sync_link(current), [binding(current.thumbprint)], True
    elif case.startswith("link moved"):
        held = in_sync_link(current)
    elif case == "same certificate, old error":
        held, bindings = in_sync_link(current, last_sync_error="DependencyError: vault down"), []
    elif case == "binding of another link":
        bindings = [binding("OLD", link_name="other")]
    elif case == "hostname not covered":
        bindings = [binding("OLD", host="api.fabrikam.test")]
    elif case == "link holds newer than read":
        held, after = link(version="v3", secret_updated_on=SEEN + timedelta(minutes=5)), False
    elif case == "link holds another version of the same second":
        held, after = link(version="v3", secret_updated_on=SEEN + timedelta(milliseconds=300)), False
    elif case == "same second, read after the link":
        held = link(version="v3", secret_updated_on=SEEN)
    plan = plan_sync(held, bindings, current, NOW, record_check=record, read_after_link=after)
    assert plan.reason is expected
    assert (plan.link is not None) is link_writes
    assert len(plan.bindings) == binding_writes
    assert all(b.thumbprint == current.thumbprint and b.updated_at == NOW for b in plan.bindings)
    assert (plan.error is not None) is (expected is Reason.UNUSABLE)
    if expected is Reason.NEW_VERSION:
        assert plan.link.thumbprint == current.thumbprint and plan.link.version == "v2"  # type: ignore[union-attr]
        assert plan.link.last_synced_at == NOW and held.thumbprint == "OLD"  # type: ignore[union-attr]  # a copy


def test_a_plan_never_changes_what_it_was_given(current):
    held, bound = link(), [binding("OLD")]
    before = (replace(held), [replace(b) for b in bound])
    plan_sync(held, bound, current, NOW)
    assert (held, bound) == before


@pytest.mark.parametrize(
    "holds, error, bindings, state",
    [
        ("NEW", "", ["NEW", "NEW"], LinkSyncState.IN_SYNC),
        ("NEW", "", [], LinkSyncState.IN_SYNC),
        ("OLD", "", ["OLD"], LinkSyncState.BEHIND),
        ("NEW", "", ["NEW", "OLD"], LinkSyncState.BINDINGS_BEHIND),  # issue #11 defect 5
        ("NEW", "HostnameNotCovered: ...", ["NEW"], LinkSyncState.FAILED),
    ],
)
def test_link_sync_state(holds, error, bindings, state):
    held = link(thumbprint=holds, last_sync_error=error)
    assert link_sync_state(held, [binding(t, f"h{i}.test") for i, t in enumerate(bindings)], "NEW") is state


def test_newest_known_thumbprint_prefers_what_a_link_saw_later():
    cert = Certificate(name="c", hostnames=("a.test",), key_type="EC256", issuer="local", thumbprint="ISSUED",
                       secret_updated_on=SEEN)  # fmt: skip
    assert newest_known_thumbprint(cert, [link(thumbprint="ISSUED", secret_updated_on=SEEN)]) == "ISSUED"
    later = link(thumbprint="OUTSIDE", secret_updated_on=SEEN + timedelta(minutes=1))
    assert newest_known_thumbprint(cert, [link(), later]) == "OUTSIDE"
    # Key Vault times have whole seconds: on a tie certsync's own issue wins over what a link saw
    # (a renewal in the second a link saw the previous version), a link over another link
    same_second = link(thumbprint="PREVIOUS", secret_updated_on=SEEN)
    assert newest_known_thumbprint(cert, [same_second]) == "ISSUED"
    assert newest_known_thumbprint(cert, [later, replace(later, thumbprint="LATER")]) == "LATER"
    renewed = replace(cert, thumbprint="RENEWED", secret_updated_on=SEEN + timedelta(hours=1))
    assert newest_known_thumbprint(renewed, [link(), later]) == "RENEWED"
