"""Several vaults on the fakes: a certificate names its vault at creation, and every read and write
of its secret goes there (issue, renew, export, overview, links, sync, sweep, App Service), never
to the default vault. The default vault holds a decoy secret of the same name, so a path that
reads the wrong vault gets a different certificate and the test says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from shared import pki
from shared.appservice.linking import AppLinkRequest, link_to_app
from shared.errors import BadRequest, Conflict
from shared.export import ExportRequest, export_certificate, secret_location
from shared.health import check_dependencies
from shared.issuers.base import IssueRequest
from shared.lifecycle import NewCertificate, create_certificate, start_renewal
from shared.links import BindingRequest, NewLink, create_link, put_binding
from shared.model import OperationKind, OperationStatus
from shared.overview import certificate_overview, certificate_summary
from shared.revoke import start_revocation
from shared.sweep import run_sweep
from shared.vault import PFX_CONTENT_TYPE
from tests.fakes.clock import TickingClock
from tests.fakes.context import Fakes, drain, fake_context
from tests.fakes.vault import FakeVault

SUB = "11111111-1111-1111-1111-111111111111"
DEFAULT_ID = f"/subscriptions/{SUB}/resourceGroups/certsync/providers/Microsoft.KeyVault/vaults/fake"
SHOP_URL = "https://shop-kv.vault.azure.net"
SHOP_ID = f"/subscriptions/{SUB}/resourceGroups/shop/providers/Microsoft.KeyVault/vaults/shop-kv"
HOST = "shop.example.com"
PASSWORD = "correct horse battery"


@pytest.fixture
def fakes() -> Fakes:
    return fake_context(
        vault_clock=TickingClock(timedelta(seconds=1)),
        KEY_VAULT_URLS=f"{SHOP_URL}/",
        KEY_VAULT_RESOURCE_ID=DEFAULT_ID,
        KEY_VAULT_RESOURCE_IDS=SHOP_ID,
        APP_SERVICE_SUBSCRIPTIONS=SUB,
    )


def shop_vault(fakes: Fakes) -> FakeVault:
    return fakes.vault_at(SHOP_URL)


def plant_decoy(fakes: Fakes, secret_name: str) -> str:
    """A secret of the same name in the default vault: what a wrong-vault read would get."""
    key = pki.generate_private_key(pki.KeyType.EC256)
    result = fakes.ctx.issuer("local").issue(IssueRequest.for_key(hostnames=(HOST,), private_key=key))
    bundle = pki.CertificateBundle(private_key=key, certificate=result.certificate, chain=result.chain)
    fakes.vault.set_secret(secret_name, pki.to_pfx_base64(bundle), content_type=PFX_CONTENT_TYPE)
    return bundle.thumbprint


def issue_in_shop(fakes: Fakes, name: str = "shop", vault: str = "shop-kv") -> str:
    decoy = plant_decoy(fakes, f"cert-{name}")
    op = create_certificate(fakes.ctx, NewCertificate(name=name, hostnames=(HOST,), key_type=pki.KeyType.EC256,
                                                      vault=vault))
    drain(fakes)
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.SUCCEEDED
    return decoy


def renew(fakes: Fakes, name: str) -> str:
    start_renewal(fakes.ctx, name, OperationKind.RENEW, {}, "test")
    drain(fakes)
    return fakes.ctx.certificates.get(name).thumbprint


def test_a_certificate_is_issued_into_the_vault_it_names(fakes: Fakes) -> None:
    decoy = issue_in_shop(fakes)

    cert = fakes.ctx.certificates.get("shop")
    written = shop_vault(fakes).get_secret("cert-shop")
    assert cert.vault == SHOP_URL and written.version == cert.secret_version
    assert written.tags["thumbprint"] == cert.thumbprint != decoy
    assert fakes.vault.get_secret("cert-shop").tags == {}  # the default vault's decoy is untouched
    assert fakes.vault.get_secret("certsync-local-ca").value  # the local CA stays in the default vault


@pytest.mark.parametrize("spelling", ["shop-kv", SHOP_URL, "https://SHOP-KV.vault.azure.net:443/"])
def test_a_vault_is_named_by_its_short_name_or_its_url_in_any_spelling(fakes: Fakes, spelling: str) -> None:
    issue_in_shop(fakes, vault=spelling)

    assert fakes.ctx.certificates.get("shop").vault == SHOP_URL


def test_an_unknown_vault_is_refused_with_the_allowed_list(fakes: Fakes) -> None:
    with pytest.raises(BadRequest) as refused:
        create_certificate(fakes.ctx, NewCertificate(name="shop", hostnames=(HOST,), vault="other-kv"))

    assert refused.value.code == "UnknownVault"
    assert "fake" in refused.value.message and "shop-kv" in refused.value.message
    assert fakes.ctx.certificates.find("shop") is None and not fakes.queue.messages


def test_a_name_is_unique_across_vaults(fakes: Fakes) -> None:
    create_certificate(fakes.ctx, NewCertificate(name="shop", hostnames=(HOST,)))

    with pytest.raises(Conflict) as refused:
        create_certificate(fakes.ctx, NewCertificate(name="shop", hostnames=(HOST,), vault="shop-kv"))

    assert refused.value.code == "CertificateExists"
    assert fakes.ctx.certificates.get("shop").vault == "https://fake.vault.azure.net"


def test_renew_export_and_overview_use_the_certificates_vault(fakes: Fakes) -> None:
    decoy = issue_in_shop(fakes)
    renewed = renew(fakes, "shop")

    exported = export_certificate(fakes.ctx, "shop", ExportRequest(format="pfx", password=PASSWORD))
    overview = certificate_overview(fakes.ctx, "shop")
    location = secret_location(fakes.ctx, "shop")

    loaded = pkcs12.load_pkcs12(exported.content, PASSWORD.encode())
    assert loaded.cert is not None and pki.thumbprint(loaded.cert.certificate) == renewed != decoy
    assert overview.secret.id == f"{SHOP_URL}/secrets/cert-shop" and overview.current_thumbprint == renewed
    assert certificate_summary(fakes.ctx, overview.certificate).vault == SHOP_URL
    assert location.secret_id == f"{SHOP_URL}/secrets/cert-shop" and location.vault_resource_id == SHOP_ID


def test_a_link_follows_a_renewal_and_the_sweep_finds_a_version_written_outside(fakes: Fakes) -> None:
    issue_in_shop(fakes)
    link = create_link(fakes.ctx, NewLink(name="shop-link", scope="rg", certificate="shop"))
    put_binding(fakes.ctx, BindingRequest(app="app1", hostname=HOST, link="shop-link"))
    assert link.secret_id == f"{SHOP_URL}/secrets/cert-shop"

    renewed = renew(fakes, "shop")
    assert fakes.ctx.links.get("shop-link").thumbprint == renewed
    assert fakes.ctx.bindings.find("app1", HOST).thumbprint == renewed

    key = pki.generate_private_key(pki.KeyType.EC256)
    result = fakes.ctx.issuer("local").issue(IssueRequest.for_key(hostnames=(HOST,), private_key=key))
    bundle = pki.CertificateBundle(private_key=key, certificate=result.certificate, chain=result.chain)
    shop_vault(fakes).set_secret("cert-shop", pki.to_pfx_base64(bundle), content_type=PFX_CONTENT_TYPE)
    report = run_sweep(fakes.ctx)

    assert report.vaults == 1 and report.changed_secrets == 1
    assert fakes.ctx.bindings.find("app1", HOST).thumbprint == bundle.thumbprint


def test_a_link_to_a_secret_in_a_configured_vault_is_made_by_its_id(fakes: Fakes) -> None:
    issue_in_shop(fakes)
    link = create_link(fakes.ctx, NewLink(name="by-id", key_vault_secret_id=f"{SHOP_URL}/secrets/cert-shop"))

    assert link.thumbprint == fakes.ctx.certificates.get("shop").thumbprint


def test_app_service_imports_from_the_certificates_vault_and_follows_a_renewal(fakes: Fakes) -> None:
    issue_in_shop(fakes)
    arm = fakes.app_service
    assert arm is not None
    arm.add_site(SUB, "rg-a", "web")

    link, bindings = link_to_app(fakes.ctx, AppLinkRequest("web", "shop", "rg-a", hostnames=(HOST,)))
    imported = arm.get_certificate(SUB, "rg-a", "shop")
    assert imported.key_vault_id == SHOP_ID and link.secret_id == f"{SHOP_URL}/secrets/cert-shop"
    assert [b.thumbprint for b in bindings] == [fakes.ctx.certificates.get("shop").thumbprint]

    renewed = renew(fakes, "shop")

    assert arm.get_certificate(SUB, "rg-a", "shop").thumbprint == renewed
    assert {b.thumbprint for b in arm.list_bindings(SUB, "rg-a")} == {renewed}
    assert run_sweep(fakes.ctx).app_service["appServiceCertificatesSynced"] == 0  # settled, vault B included


def test_revoking_an_older_version_in_the_second_vault_finds_it_there(fakes: Fakes) -> None:
    issue_in_shop(fakes)
    first = fakes.ctx.certificates.get("shop")
    renew(fakes, "shop")

    op = start_revocation(fakes.ctx, "shop", "superseded", first.secret_version)
    drain(fakes)

    done = fakes.ctx.operations.get(op.id)
    assert done.status is OperationStatus.SUCCEEDED, done.error_message
    crl = x509.load_der_x509_crl(fakes.ctx.local_ca().crl_der())
    assert crl.get_revoked_certificate_by_serial_number(int(first.serial, 16)) is not None


def test_health_is_unhealthy_when_any_configured_vault_is_down(fakes: Fakes) -> None:
    assert check_dependencies(fakes.ctx).healthy

    shop_vault(fakes).down = True

    report = check_dependencies(fakes.ctx)
    assert not report.healthy
    assert report.as_dict()["dependencies"]["keyVault"]["status"] == "Unhealthy"
