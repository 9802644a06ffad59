"""Microsoft.Web/certificates imported from the Key Vault emulator, driven by azure-mgmt-web."""

from __future__ import annotations

import base64

import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import Certificate, HostNameBinding

from .conftest import AppWorld
from .support import LOCAL_VAULT_ID, LOCATION, PFX, RawArm, make_pfx


def test_import_fills_thumbprint_names_and_dates(world: AppWorld) -> None:
    pfx = make_pfx("shop.example.com", "www.example.com", days=40)

    cert = world.import_cert("shop", pfx)

    assert cert.key_vault_secret_status == "Succeeded"
    assert cert.thumbprint == pfx.thumbprint
    assert cert.subject_name == "shop.example.com"
    assert cert.host_names == ["shop.example.com", "www.example.com"]
    assert cert.expiration_date is not None and cert.issue_date is not None
    assert 39 <= (cert.expiration_date - cert.issue_date).days <= 40
    assert cert.key_vault_id == LOCAL_VAULT_ID and cert.key_vault_secret_name == "shop"
    assert cert.id.endswith("/resourceGroups/apps/providers/Microsoft.Web/certificates/shop")


def test_re_put_reads_the_latest_secret_version(world: AppWorld) -> None:
    world.import_cert("shop", make_pfx("shop.example.com"))
    renewed = make_pfx("shop.example.com")
    world.secrets.set_secret("shop", renewed.value, content_type=PFX)

    assert world.web.certificates.get("apps", "shop").thumbprint != renewed.thumbprint
    assert world.import_cert("shop", None).thumbprint == renewed.thumbprint


def test_renewal_moves_the_bindings_that_used_the_old_thumbprint(world: AppWorld) -> None:
    world.site("shop")
    old = world.import_cert("shop", make_pfx("shop.example.com"))
    world.web.web_apps.create_or_update_host_name_binding(
        "apps", "shop", "shop.example.com", HostNameBinding(ssl_state="SniEnabled", thumbprint=old.thumbprint)
    )
    renewed = make_pfx("shop.example.com")

    world.import_cert("shop", renewed)

    binding = world.web.web_apps.get_host_name_binding("apps", "shop", "shop.example.com")
    assert binding.thumbprint == renewed.thumbprint


def test_missing_secret(world: AppWorld) -> None:
    cert = world.import_cert("nothing", None, secret="does-not-exist")

    assert cert.key_vault_secret_status == "KeyVaultSecretDoesNotExist"
    assert cert.thumbprint is None


def test_disabled_secret(world: AppWorld, secrets: SecretClient) -> None:
    secrets.set_secret("off", make_pfx("off.example.com").value, content_type=PFX, enabled=False)

    assert world.import_cert("off", None).key_vault_secret_status == "KeyVaultSecretDoesNotExist"


def test_wrong_content_type_and_password_protected_pfx(world: AppWorld, secrets: SecretClient) -> None:
    secrets.set_secret("pem", make_pfx("pem.example.com").value, content_type="application/x-pem-file")
    secrets.set_secret("locked", make_pfx("locked.example.com", password="s3cret").value, content_type=PFX)

    assert world.import_cert("pem", None).key_vault_secret_status == "UnknownError"
    assert world.import_cert("locked", None).key_vault_secret_status == "UnknownError"


def test_unknown_vault(world: AppWorld) -> None:
    other_vault = LOCAL_VAULT_ID.replace("/vaults/local", "/vaults/elsewhere")
    cert = world.web.certificates.create_or_update(
        "apps", "x", Certificate(location=LOCATION, key_vault_id=other_vault, key_vault_secret_name="x")
    )

    assert cert.key_vault_secret_status == "KeyVaultDoesNotExist"


def test_principal_without_vault_access(world: AppWorld, raw: RawArm) -> None:
    pfx = make_pfx("shop.example.com")
    raw.manage("PUT", "keyvault-access", json={"allowed": False}).raise_for_status()

    denied = world.import_cert("shop", pfx)
    raw.manage("PUT", "keyvault-access", json={"allowed": True}).raise_for_status()
    allowed = world.import_cert("shop", None)

    assert denied.key_vault_secret_status == "AzureServiceUnauthorizedToAccessKeyVault"
    assert allowed.key_vault_secret_status == "Succeeded" and allowed.thumbprint == pfx.thumbprint


def test_failed_re_read_keeps_the_last_imported_certificate(world: AppWorld, raw: RawArm) -> None:
    pfx = make_pfx("shop.example.com")
    world.import_cert("shop", pfx)
    raw.manage("PUT", "keyvault-access", json={"allowed": False}).raise_for_status()

    cert = world.import_cert("shop", None)

    assert cert.key_vault_secret_status == "AzureServiceUnauthorizedToAccessKeyVault"
    assert cert.thumbprint == pfx.thumbprint


def test_same_thumbprint_twice_in_a_webspace_conflicts(world: AppWorld) -> None:
    pfx = make_pfx("shop.example.com")
    world.import_cert("first", pfx, secret="shared")

    with pytest.raises(HttpResponseError) as caught:
        world.import_cert("second", None, secret="shared")

    assert caught.value.status_code == 409
    assert caught.value.error is not None and caught.value.error.code == "Conflict"


def test_certificate_in_use_cannot_be_deleted(world: AppWorld) -> None:
    world.site("shop")
    cert = world.import_cert("shop", make_pfx("shop.example.com"))
    world.web.web_apps.create_or_update_host_name_binding(
        "apps", "shop", "shop.example.com", HostNameBinding(ssl_state="SniEnabled", thumbprint=cert.thumbprint)
    )

    with pytest.raises(HttpResponseError) as caught:
        world.web.certificates.delete("apps", "shop")
    world.web.web_apps.delete_host_name_binding("apps", "shop", "shop.example.com")
    world.web.certificates.delete("apps", "shop")

    assert caught.value.status_code == 409
    assert [c.name for c in world.web.certificates.list()] == []


def test_list_pages_by_subscription_and_resource_group(world: AppWorld, raw: RawArm, groups) -> None:
    groups.resource_groups.create_or_update("other", {"location": LOCATION})
    for index in range(3):
        world.import_cert(f"c{index}", make_pfx(f"c{index}.example.com"))
    world.import_cert("elsewhere", make_pfx("o.example.com"), group="other")

    everywhere = sorted(c.name for c in world.web.certificates.list())
    in_apps = sorted(c.name for c in world.web.certificates.list_by_resource_group("apps"))
    first_page = raw.call(
        "GET", "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.Web/certificates"
    ).json()

    assert everywhere == ["c0", "c1", "c2", "elsewhere"]
    assert in_apps == ["c0", "c1", "c2"]
    assert len(first_page["value"]) == 2 and first_page["nextLink"].startswith("https://")


def test_uploaded_pfx_with_password(world: AppWorld) -> None:
    pfx = make_pfx("up.example.com", password="pw")

    cert = world.web.certificates.create_or_update(
        "apps", "up", Certificate(location=LOCATION, pfx_blob=base64.b64decode(pfx.value), password="pw")
    )

    assert cert.thumbprint == pfx.thumbprint
    assert "pfxBlob" not in str(cert.as_dict()) and "password" not in cert.as_dict().get("properties", {})


def test_certificate_needs_a_source(web: WebSiteManagementClient, world: AppWorld) -> None:
    with pytest.raises(HttpResponseError) as caught:
        web.certificates.create_or_update("apps", "empty", Certificate(location=LOCATION))

    assert caught.value.status_code == 400


def test_subscription_list_filters_by_key_vault_id_across_pages(world: AppWorld) -> None:
    other_vault = LOCAL_VAULT_ID.replace("/vaults/local", "/vaults/elsewhere")
    for name in ("a", "b", "c"):
        world.import_cert(name, make_pfx(f"{name}.example.com"))
    world.web.certificates.create_or_update(
        "apps", "x", Certificate(location=LOCATION, key_vault_id=other_vault, key_vault_secret_name="x")
    )

    local = world.web.certificates.list(filter=f"KeyVaultId eq '{LOCAL_VAULT_ID.upper()}'")
    elsewhere = world.web.certificates.list(filter=f"KeyVaultId eq '{other_vault}'")

    assert sorted(c.name for c in local) == ["a", "b", "c"]
    assert [c.name for c in elsewhere] == ["x"]


def test_a_filter_the_emulator_cannot_apply_is_refused(world: AppWorld) -> None:
    with pytest.raises(HttpResponseError) as caught:
        list(world.web.certificates.list(filter="properties/hostNames/any(h: h eq 'a.example.com')"))

    assert caught.value.status_code == 400
    assert caught.value.error is not None and caught.value.error.code == "InvalidFilter"
