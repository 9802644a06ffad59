"""ACME profiles and Renewal Information (RFC 9773) through the real use cases on the fakes:
a profile checked at request time and kept, the default from ACME_PROFILE, renewalInfo polled
on every auto_renew run honouring Retry-After, a window moved earlier renewed on that run, and
`replaces` on the renewal order."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from shared.auto_renew import run_auto_renew
from shared.clock import utcnow
from shared.errors import BadRequest
from shared.issuers.base import RenewalInfo
from shared.lifecycle import NewCertificate, create_certificate
from shared.model import CertificateStatus, OperationStatus
from tests.fakes.context import Fakes, drain, fake_context
from tests.fakes.issuer import FakeAcmeIssuer

HOST = "www.example.com"


@pytest.fixture
def fakes() -> Fakes:
    return fake_context()


@pytest.fixture
def issuer(fakes: Fakes) -> FakeAcmeIssuer:
    fake = FakeAcmeIssuer(fakes.vault, utcnow)
    fakes.ctx._issuers["acme"] = fake
    return fake


def issue(fakes: Fakes, profile: str = "") -> None:
    op = create_certificate(fakes.ctx, NewCertificate(name="web", hostnames=(HOST,), issuer="acme", profile=profile))
    drain(fakes)
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.SUCCEEDED


def test_an_unknown_profile_is_refused_at_request_time_and_nothing_is_created(fakes, issuer):
    with pytest.raises(BadRequest) as refused:
        create_certificate(fakes.ctx, NewCertificate(name="web", hostnames=(HOST,), issuer="acme", profile="yearly"))
    assert refused.value.code == "UnknownProfile"
    assert fakes.ctx.certificates.list() == []
    assert issuer.orders == []


def test_the_local_issuer_has_no_profiles(fakes):
    with pytest.raises(BadRequest) as refused:
        create_certificate(fakes.ctx, NewCertificate(name="web", hostnames=(HOST,), profile="shortlived"))
    assert refused.value.code == "UnknownProfile"


def test_the_profile_is_kept_and_sent_with_every_order(fakes, issuer):
    issue(fakes, "shortlived")
    cert = fakes.ctx.certificates.get("web")
    assert cert.profile == "shortlived"
    assert cert.not_after - cert.not_before >= timedelta(hours=160)
    assert cert.not_after - cert.not_before < timedelta(hours=161)
    run_auto_renew(fakes.ctx, now=cert.renewal_due_at)
    drain(fakes)
    assert [o.profile for o in issuer.orders] == ["shortlived", "shortlived"]


def test_the_default_profile_applies_when_none_is_named(fakes, issuer):
    issuer.default_profile = "tlsserver"  # what ACME_PROFILE sets on the ACME issuer
    issue(fakes)
    assert fakes.ctx.certificates.get("web").profile == "tlsserver"
    assert issuer.orders[0].profile == "tlsserver"


def test_every_run_polls_renewal_info_and_a_window_moved_earlier_renews_on_that_run(fakes, issuer):
    issue(fakes, "classic")
    cert = fakes.ctx.certificates.get("web")
    assert cert.ari_id in issuer.issued
    now = utcnow()
    later = (cert.not_after - timedelta(days=30), cert.not_after - timedelta(days=29))
    issuer.windows[cert.ari_id] = RenewalInfo(later)
    report = run_auto_renew(fakes.ctx, now=now)
    assert report.started == [] and len(issuer.polls) == 1
    assert later[0] <= fakes.ctx.certificates.get("web").renewal_due_at <= later[1]

    # A mass revocation: the CA moves the window into the past; the next run renews at once.
    moved = (now - timedelta(hours=2), now - timedelta(hours=1))
    issuer.windows[cert.ari_id] = RenewalInfo(moved)
    report = run_auto_renew(fakes.ctx, now=now + timedelta(hours=8), rng=random.Random(1))
    assert report.windows_moved == ["web"] and report.started == ["web"]
    drain(fakes)
    renewed = fakes.ctx.certificates.get("web")
    assert renewed.status is CertificateStatus.ISSUED and renewed.serial != cert.serial
    assert issuer.orders[-1].replaces == cert.ari_id  # RFC 9773 section 5
    assert renewed.ari_id != cert.ari_id and renewed.ari_window is None


def test_retry_after_is_honoured_between_runs(fakes, issuer):
    issue(fakes, "classic")
    cert = fakes.ctx.certificates.get("web")
    window = (cert.not_after - timedelta(days=30), cert.not_after - timedelta(days=29))
    issuer.windows[cert.ari_id] = RenewalInfo(window, retry_after=timedelta(hours=20))
    now = utcnow()
    polled = []
    for hours in (0, 8, 16, 24):
        run_auto_renew(fakes.ctx, now=now + timedelta(hours=hours))
        polled.append(len(issuer.polls))
    assert polled == [1, 1, 1, 2]  # not again at +8 h and +16 h, inside the 20-hour Retry-After


def test_a_first_issuance_sends_no_replaces(fakes, issuer):
    issue(fakes)
    assert issuer.orders[0].replaces == ""
