"""Short-lived certificates never lapse: 30 simulated days (or three lifetimes, if longer) of the
real auto_renew, lifecycle and sync use cases on the fakes, stepping a simulated clock by the auto_renew schedule (8 h), with
every renewal failing twice before it succeeds. At every run the certificate each binding serves
is checked; the least remaining lifetime ever seen is reported (pytest -s) and must stay above
the stated margin: 2 days for the 160-hour certificate, 14 days for 45 and 47 days. The policy
promises renewBefore - 3 intervals (one to notice, two failed tries): 56 h for 160 hours.

Simplifications, stated: the queue's random delay (AUTO_RENEW_JITTER_SECONDS, at most 5 minutes)
is delivered at once, and the sync after a renewal runs in the same instant."""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from shared import renewal
from shared.auto_renew import run_auto_renew
from shared.clock import from_iso, utcnow
from shared.lifecycle import NewCertificate, create_certificate
from shared.links import BindingRequest, NewLink, create_link, put_binding
from shared.model import OperationStatus
from tests.fakes.context import Fakes, drain, fake_context
from tests.fakes.issuer import FakeAcmeIssuer

HOST = "www.example.com"
INTERVAL = timedelta(hours=8)  # the default AUTO_RENEW_SCHEDULE, 0 0 */8 * * *
MIN_SIMULATED = timedelta(days=30)
FAILURES = 2


@dataclass
class SimulatedClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimulatedClock:
    """One simulated "now" for every module of shared/ that reads the clock."""
    sim = SimulatedClock(utcnow().replace(microsecond=0))
    for name, module in list(sys.modules.items()):
        if name.startswith("shared.") and getattr(module, "utcnow", None) is utcnow:
            monkeypatch.setattr(module, "utcnow", sim)
    return sim


def served_not_after(fakes: Fakes, secret: str) -> dict[str, datetime]:
    """notAfter of every version the vault holds, by thumbprint (the binding names one)."""
    return {v.tags["thumbprint"]: from_iso(v.tags["notAfter"]) for v in fakes.vault.list_versions(secret)}


def least_remaining_lifetime(
    clock: SimulatedClock, profile: str, lifetime: timedelta, start_offset: timedelta
) -> tuple[timedelta, int]:
    fakes = fake_context(vault_clock=clock)
    issuer = FakeAcmeIssuer(fakes.vault, clock)
    issuer.profiles[profile] = lifetime
    fakes.ctx._issuers["acme"] = issuer
    op = create_certificate(fakes.ctx, NewCertificate(name="web", hostnames=(HOST,), issuer="acme", profile=profile))
    drain(fakes)
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.SUCCEEDED
    issuer.fail_attempts = FAILURES  # from now on every renewal fails twice before it succeeds
    create_link(fakes.ctx, NewLink(name="web-link", scope="rg", certificate="web"))
    for app in ("app1", "app2"):
        put_binding(fakes.ctx, BindingRequest(app=app, hostname=HOST, link="web-link"))
    end = clock.now + max(MIN_SIMULATED, 3 * lifetime)
    clock.now += start_offset  # the first run comes this long after the first issuance
    rng = random.Random(7)
    least = timedelta.max
    while clock.now < end:
        not_after = served_not_after(fakes, "cert-web")
        for app in ("app1", "app2"):
            binding = fakes.bindings.find(app, HOST)
            assert binding is not None
            least = min(least, not_after[binding.thumbprint] - clock.now)
        run_auto_renew(fakes.ctx, now=clock.now, rng=rng)
        drain(fakes)
        clock.now += INTERVAL
    renewals = sum(1 for order in issuer.orders if not order.failed) - 1
    return least, renewals


@pytest.mark.parametrize(
    "profile,lifetime,margin",
    [
        ("shortlived", timedelta(hours=160), timedelta(days=2)),  # Let's Encrypt's 6-day profile
        ("tlsserver", timedelta(days=45), timedelta(days=14)),  # Let's Encrypt's planned 45 days
        ("classic", timedelta(days=47), timedelta(days=14)),  # the CA/Browser Forum's cap from March 2029
    ],
)
@pytest.mark.parametrize("start_offset", [timedelta(hours=3), timedelta(hours=7, minutes=59)])
def test_certificates_never_lapse_with_two_failures_per_renewal(clock, profile, lifetime, margin, start_offset):
    least, renewals = least_remaining_lifetime(clock, profile, lifetime, start_offset)
    promised = renewal.renew_before(clock.now, clock.now + lifetime) - (1 + FAILURES) * INTERVAL
    simulated = max(MIN_SIMULATED, 3 * lifetime)
    print(f"\n{profile} ({lifetime}), first run +{start_offset}: {renewals} renewals in {simulated.days} days, "
          f"least remaining lifetime at a binding {least}, promised at least {promised}")
    assert least >= margin
    assert least >= promised
    assert renewals >= simulated // lifetime
