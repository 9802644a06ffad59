"""What certsync reads in App Service is recorded like a Key Vault read (on the fakes): the
secret's current version read by an ARM sync or sweep is recorded on its certificate, and a
certificate resource App Service moved by itself (its own pull of the latest version) shows
with the thumbprint ARM holds even when certsync's sync refuses that version. An older read
never replaces a newer one."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shared.appservice import sync as appservice
from shared.appservice.resources import ArmBinding, ArmCertificate, link_name
from shared.clock import utcnow
from shared.overview import link_overview
from shared.secret_refs import current_certificate
from tests.fakes.context import Fakes
from tests.service.conftest import SUB, VAULT_ID, app_service_fakes, arm_of, issued, upload_version

HOSTS = ("shop.example.com", "www.shop.example.com")
SITE = "web-rg-a"


@pytest.fixture
def fakes() -> Fakes:
    return app_service_fakes()


@pytest.fixture
def indexed(fakes: Fakes) -> ArmCertificate:
    """A portal import bound on both hostnames, indexed by a sweep; App Service will not move the
    bindings with a re-import here, so they show what certsync's own sync does."""
    secret = issued(fakes, "shop", HOSTS).secret_name
    arm = arm_of(fakes)
    cert = arm.put_certificate(ArmCertificate(SUB, "rg-a", "shop", "westeurope", VAULT_ID, secret, "plan"))
    arm.add_site(SUB, "rg-a", SITE)
    for host in HOSTS:
        arm.put_binding(ArmBinding(SUB, "rg-a", SITE, host, "", "SniEnabled", cert.thumbprint))
    appservice.sweep(fakes.ctx)
    arm.moves_bindings_on_import = False
    return cert


def test_the_version_an_arm_sweep_reads_is_recorded_on_its_certificate(fakes: Fakes, indexed: ArmCertificate) -> None:
    """A version written outside certsync that the sync refuses (it drops a bound hostname): the
    link page (Table data only) measures the link against that version from the sweep's read on."""
    version, thumbprint = upload_version(fakes, indexed.key_vault_secret_name, HOSTS[:1])

    result = appservice.sweep(fakes.ctx)

    assert result.failures == {link_name(indexed): "HostnameNotCovered"}
    cert = fakes.ctx.certificates.get("shop")
    assert (cert.observed_version, cert.observed_thumbprint) == (version.version, thumbprint)
    state = link_overview(fakes.ctx, link_name(indexed))
    assert (state.newest_thumbprint, state.link.thumbprint, state.in_sync) == (thumbprint, indexed.thumbprint, False)


def test_a_resource_app_service_moved_by_itself_shows_what_arm_holds(fakes: Fakes, indexed: ArmCertificate) -> None:
    """App Service's own pull imports the version certsync refuses; the failed sync still records
    the resource's thumbprint and status as ARM answered, and the bindings behind it."""
    version, thumbprint = upload_version(fakes, indexed.key_vault_secret_name, HOSTS[:1])
    arm_of(fakes).put_certificate(indexed)  # App Service's own pull, not certsync's

    result = appservice.sweep(fakes.ctx)

    assert result.failures == {link_name(indexed): "HostnameNotCovered"}
    link = fakes.ctx.links.get(link_name(indexed))
    assert (link.thumbprint, link.version, link.secret_status) == (thumbprint, version.version, "Succeeded")
    assert link.last_sync_error.startswith("HostnameNotCovered")
    state = link_overview(fakes.ctx, link.name)
    assert [(s.binding.hostname, s.state) for s in state.binding_states] == [
        (HOSTS[0], "BindingBehind"),
        (HOSTS[1], "BindingBehind"),
    ]


def test_an_older_arm_read_never_replaces_a_newer_one(fakes: Fakes, indexed: ArmCertificate) -> None:
    before = fakes.ctx.links.get(link_name(indexed))
    _, thumbprint = upload_version(fakes, indexed.key_vault_secret_name, HOSTS)
    current = current_certificate(fakes.vault, indexed.key_vault_secret_name)
    late = replace(indexed, thumbprint=thumbprint, read_at=utcnow() - timedelta(minutes=5))

    appservice.index(fakes.ctx, late, current, "shop", [], last_error="")

    after = fakes.ctx.links.get(link_name(indexed))
    assert (after.thumbprint, after.version, after.last_checked_at) == (
        before.thumbprint,
        before.version,
        before.last_checked_at,
    )
