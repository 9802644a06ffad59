"""Two Key Vault emulators: a certificate issued into the second vault is renewed, exported, linked,
synced and swept there, and nothing of it is written to the default vault (which keeps the local CA)."""
from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError
from cryptography.hazmat.primitives.serialization import pkcs12

from shared import pki
from shared.export import ExportRequest, export_certificate
from shared.lifecycle import start_renewal
from shared.model import OperationKind
from shared.overview import certificate_overview
from shared.sweep import plan_sweep, run_sweep

from tests.integration.helpers import drain, issued, linked_and_bound, upload_new_version

PASSWORD = "correct horse battery"


@pytest.fixture
def vault_b(second_vault, storage_and_vault):
    client = second_vault.client(storage_and_vault[2])
    yield client
    client.close()


def test_a_certificate_lives_its_whole_life_in_the_vault_it_names(
    make_ctx, second_vault, vault_b, secret_client, unique
):
    ctx = make_ctx(**second_vault.settings())
    name, host = f"b-{unique}", f"b-{unique}.example.com"

    cert = issued(ctx, name, [host], vault="second")
    assert cert.vault == second_vault.url
    assert vault_b.get_secret(cert.secret_name).properties.version == cert.secret_version
    with pytest.raises(ResourceNotFoundError):
        secret_client.get_secret(cert.secret_name)  # nothing in the default vault
    assert secret_client.get_secret("certsync-local-ca").value  # which keeps the local CA

    linked_and_bound(ctx, cert, f"link-{unique}", [("app1", host)])
    assert ctx.links.get(f"link-{unique}").secret_id == f"{second_vault.url}/secrets/{cert.secret_name}"

    start_renewal(ctx, name, OperationKind.RENEW, {})
    drain(ctx)
    renewed = ctx.certificates.get(name)
    assert renewed.thumbprint != cert.thumbprint
    assert vault_b.get_secret(cert.secret_name).properties.version == renewed.secret_version
    assert ctx.bindings.find("app1", host).thumbprint == renewed.thumbprint  # the link followed

    exported = export_certificate(ctx, name, ExportRequest(format="pfx", password=PASSWORD))
    loaded = pkcs12.load_pkcs12(exported.content, PASSWORD.encode())
    assert loaded.cert is not None and pki.thumbprint(loaded.cert.certificate) == renewed.thumbprint

    outside = upload_new_version(vault_b, cert.secret_name, [host], ctx)
    assert certificate_overview(ctx, name).current_thumbprint == outside.thumbprint
    assert second_vault.url in plan_sweep(ctx)  # one sweep unit for the second vault
    report = run_sweep(ctx)

    assert report.changed_secrets == 1
    assert ctx.bindings.find("app1", host).thumbprint == outside.thumbprint
    with pytest.raises(ResourceNotFoundError):
        secret_client.get_secret(cert.secret_name)
