"""Sync in App Service on the fakes: after a renewal every certificate resource of the secret
(also ones certsync never saw) is imported again and its bindings follow; ARM failing midway
(429, 5xx, 403, App Service unable to read the vault) leaves nothing on an invalid certificate,
records why on the link, and a later delivery or sweep finishes the work."""

from __future__ import annotations

import pytest

from shared.appservice import sync as appservice
from shared.appservice.resources import ArmBinding, ArmCertificate, link_name
from shared.errors import DependencyError, Forbidden
from shared.lifecycle import set_auto_renew, start_renewal
from shared.model import OperationKind, OperationStatus
from shared.revoke import start_revocation
from shared.sweep import run_sweep
from tests.fakes.context import Fakes, deliver_one, drain
from tests.service.conftest import SUB, VAULT_ID, app_service_fakes, arm_of, issued, upload_version

HOSTS = ("shop.example.com", "www.shop.example.com")


@pytest.fixture
def fakes() -> Fakes:
    return app_service_fakes()


def imported_and_bound(fakes: Fakes, group: str, name: str, secret: str) -> ArmCertificate:
    """What a user does in the portal: import the secret, bind both hostnames (site and slot)."""
    arm = arm_of(fakes)
    cert = arm.put_certificate(ArmCertificate(SUB, group, name, "westeurope", VAULT_ID, secret, "plan"))
    site = f"web-{group}"
    for slot in ("", "staging"):
        arm.add_site(SUB, group, site, slot)
    arm.put_binding(ArmBinding(SUB, group, site, HOSTS[0], "", "SniEnabled", cert.thumbprint))
    arm.put_binding(ArmBinding(SUB, group, site, HOSTS[1], "staging", "SniEnabled", cert.thumbprint))
    return cert


def renewed(fakes: Fakes, name: str) -> str:
    """Renew, and deliver until the queue is empty, as the host does (an ARM failure raises out
    of the function and the message comes back)."""
    start_renewal(fakes.ctx, name, OperationKind.RENEW, {}, "test")
    for _ in range(20):
        if not fakes.queue.messages:
            break
        try:
            deliver_one(fakes)
        except DependencyError:
            continue
    assert not fakes.queue.messages
    return fakes.ctx.certificates.get(name).thumbprint


def thumbprints(fakes: Fakes, group: str) -> set[str]:
    arm = arm_of(fakes)
    return {b.thumbprint for b in arm.list_bindings(SUB, group)} | {
        c.thumbprint for c in arm.list_certificates(SUB) if c.resource_group == group
    }


def test_renewal_imports_every_resource_of_the_secret_and_indexes_them(fakes: Fakes) -> None:
    cert = issued(fakes, "shop", HOSTS)
    a = imported_and_bound(fakes, "rg-a", "shop", cert.secret_name)
    imported_and_bound(fakes, "rg-b", "shop-copy", cert.secret_name)
    before = arm_of(fakes).calls.copy()

    new = renewed(fakes, "shop")
    calls = arm_of(fakes).calls - before

    assert new != cert.thumbprint
    assert thumbprints(fakes, "rg-a") == thumbprints(fakes, "rg-b") == {new}
    link = fakes.ctx.links.get(link_name(a))
    assert (link.resource_id, link.thumbprint, link.certificate, link.scope) == (a.id, new, "shop", "rg-a")
    rows = fakes.ctx.bindings.for_link(link.name)
    assert sorted((b.app, b.hostname, b.slot, b.thumbprint) for b in rows) == [
        ("web-rg-a", HOSTS[0], "", new),
        ("web-rg-a", HOSTS[1], "staging", new),
    ]
    assert calls["list_certificates"] == 1  # one list per subscription
    assert calls["put_certificate"] == 2  # one re-import per certificate resource
    assert calls["list_bindings"] == 4  # per resource group: before the import, and after it to read back
    assert calls["put_binding"] == calls["get_binding"] == 0  # App Service moved them with the import


def test_bindings_app_service_did_not_move_are_put_and_read_back(fakes: Fakes) -> None:
    cert = issued(fakes, "shop", HOSTS)
    imported_and_bound(fakes, "rg-a", "shop", cert.secret_name)
    arm_of(fakes).moves_bindings_on_import = False
    before = arm_of(fakes).calls.copy()

    new = renewed(fakes, "shop")

    calls = arm_of(fakes).calls - before
    assert thumbprints(fakes, "rg-a") == {new}
    assert (calls["put_certificate"], calls["list_bindings"], calls["put_binding"], calls["get_binding"]) == (
        1,
        2,
        2,
        2,
    )


def test_throttling_and_5xx_midway_are_retried_by_the_next_delivery(fakes: Fakes) -> None:
    cert = issued(fakes, "shop", HOSTS)
    imported_and_bound(fakes, "rg-a", "shop", cert.secret_name)
    imported_and_bound(fakes, "rg-b", "shop", cert.secret_name)
    arm_of(fakes).failures["put_certificate"] = [
        DependencyError("throttled", code="ArmThrottled", retry_after=1),
        DependencyError("bad gateway", code="ArmUnavailable"),
    ]

    new = renewed(fakes, "shop")

    assert thumbprints(fakes, "rg-a") == thumbprints(fakes, "rg-b") == {new}
    sync = fakes.ctx.operations.list(target="shop", kind=OperationKind.SYNC_CERTIFICATE.value)[0]  # newest first
    assert sync.parameters == {"trigger": "renewal"} and sync.status is OperationStatus.SUCCEEDED
    assert not any(link.last_sync_error for link in fakes.ctx.links.list())


def test_a_missing_role_is_a_link_error_naming_the_action_and_changes_nothing(fakes: Fakes) -> None:
    cert = issued(fakes, "shop", HOSTS)
    old = imported_and_bound(fakes, "rg-a", "shop", cert.secret_name)
    action = "Microsoft.Web/certificates/write"
    arm_of(fakes).failures["put_certificate"] = [
        Forbidden(f"certsync's identity may not perform {action}", code="AuthorizationFailed")
    ]

    renewed(fakes, "shop")

    assert thumbprints(fakes, "rg-a") == {old.thumbprint}
    link = fakes.ctx.links.get(link_name(old))
    assert link.last_sync_error.startswith("AuthorizationFailed") and action in link.last_sync_error


def test_app_service_without_vault_access_keeps_every_binding_on_the_old_certificate(fakes: Fakes) -> None:
    cert = issued(fakes, "shop", HOSTS)
    old = imported_and_bound(fakes, "rg-a", "shop", cert.secret_name)
    arm_of(fakes).vault_access = False

    renewed(fakes, "shop")

    assert thumbprints(fakes, "rg-a") == {old.thumbprint}
    link = fakes.ctx.links.get(link_name(old))
    assert link.last_sync_error.startswith("AzureServiceUnauthorizedToAccessKeyVault")
    assert link.secret_status == "AzureServiceUnauthorizedToAccessKeyVault"


def test_the_sweep_discovers_a_portal_import_and_moves_a_secret_changed_outside_certsync(fakes: Fakes) -> None:
    cert = issued(fakes, "shop", HOSTS)
    imported_and_bound(fakes, "rg-a", "shop", cert.secret_name)
    _, outside = upload_version(fakes, cert.secret_name, HOSTS)

    report = run_sweep(fakes.ctx)

    assert report.app_service["appServiceCertificatesChanged"] == 1
    assert thumbprints(fakes, "rg-a") == {outside}
    puts = arm_of(fakes).calls["put_certificate"]
    assert run_sweep(fakes.ctx).app_service["appServiceCertificatesSynced"] == 0  # settled: nothing to write
    assert arm_of(fakes).calls["put_certificate"] == puts


def test_a_version_that_drops_a_bound_hostname_is_never_imported(fakes: Fakes) -> None:
    cert = issued(fakes, "shop", HOSTS)
    old = imported_and_bound(fakes, "rg-a", "shop", cert.secret_name)
    upload_version(fakes, cert.secret_name, HOSTS[:1])

    result = appservice.sync_secret(fakes.ctx, fakes.ctx.secret_of(cert), "shop")

    assert result.failures == {link_name(old): "HostnameNotCovered"}
    assert thumbprints(fakes, "rg-a") == {old.thumbprint}


def test_a_revoked_current_version_is_replaced_in_arm_and_never_imported_again(fakes: Fakes) -> None:
    """Revoke with auto-renew on: the rekey's sync re-imports every resource of the secret and moves
    the site's and the slot's bindings. With the certificate revoked again and auto-renew off,
    a sync refuses to import it (CertificateRevoked on the link) and ARM keeps what it had."""
    cert = issued(fakes, "shop", HOSTS)
    imported_and_bound(fakes, "rg-a", "shop", cert.secret_name)
    start_revocation(fakes.ctx, "shop", "keyCompromise")
    drain(fakes)
    after = fakes.ctx.certificates.get("shop")
    assert after.thumbprint != cert.thumbprint
    assert thumbprints(fakes, "rg-a") == {after.thumbprint}

    set_auto_renew(fakes.ctx, "shop", False)
    uploaded, _ = upload_version(fakes, cert.secret_name, HOSTS)  # written outside certsync, then revoked
    start_revocation(fakes.ctx, "shop", "superseded", uploaded.version)
    drain(fakes)
    result = appservice.sync_secret(fakes.ctx, fakes.ctx.secret_of(cert), "shop")
    assert set(result.failures.values()) == {"CertificateRevoked"}
    assert thumbprints(fakes, "rg-a") == {after.thumbprint}
    link = fakes.ctx.links.get(link_name(arm_of(fakes).list_certificates(SUB)[0]))
    assert link.last_sync_error.startswith("CertificateRevoked")
