"""Linking a secret in a vault no one answers for: the caller's mistake (404 VaultNotFound)
unless the vault is one certsync already uses, whose failure is an outage (503)."""
from __future__ import annotations

import pytest

from shared.errors import DependencyError, NotFound
from shared.links import NewLink, create_link
from tests.fakes.context import Fakes, fake_context
from tests.service.conftest import issued, upload_version

OTHER = "https://other.vault.azure.net"


def test_an_unknown_vault_no_one_answers_for_is_not_found(fakes: Fakes) -> None:
    fakes.vault_at(OTHER).absent = True
    with pytest.raises(NotFound) as caught:
        create_link(fakes.ctx, NewLink(name="l1", key_vault_secret_id=f"{OTHER}/secrets/shop"))
    assert caught.value.code == "VaultNotFound"
    assert fakes.ctx.links.find("l1") is None


def test_certsyncs_own_vault_failing_so_is_an_outage(fakes: Fakes) -> None:
    issued(fakes, "shop")
    fakes.vault.absent = True
    spec = NewLink(name="l1", key_vault_secret_id=f"{fakes.vault.url}/secrets/cert-shop")
    with pytest.raises(DependencyError) as caught:
        create_link(fakes.ctx, spec)
    assert caught.value.status == 503


def test_a_vault_a_link_already_reads_failing_so_is_an_outage(fakes: Fakes) -> None:
    issued(fakes, "shop")  # the local CA's chain is needed for a usable PFX
    other = fakes.vault_at(OTHER)
    _, thumbprint = upload_version(fakes, "shop-pfx")
    other.set_secret("shop-pfx", fakes.vault.get_secret("shop-pfx").value or "", content_type="application/x-pkcs12")
    first = create_link(fakes.ctx, NewLink(name="l1", key_vault_secret_id=f"{OTHER}/secrets/shop-pfx"))
    assert first.thumbprint == thumbprint
    other.absent = True
    with pytest.raises(DependencyError) as caught:
        create_link(fakes.ctx, NewLink(name="l2", key_vault_secret_id=f"{OTHER}/secrets/shop-pfx"))
    assert caught.value.status == 503


def test_a_configured_vault_failing_so_is_an_outage() -> None:
    """A vault of KEY_VAULT_URLS is certsync's own even before any link reads from it."""
    fakes = fake_context(KEY_VAULT_URLS=OTHER)
    fakes.vault_at(OTHER).absent = True
    with pytest.raises(DependencyError) as caught:
        create_link(fakes.ctx, NewLink(name="l1", key_vault_secret_id=f"{OTHER}/secrets/shop"))
    assert caught.value.status == 503
