"""How the overview measures one binding (pure): in sync only on the newest known version, and
why not in words; and the site or slot resource id an App Service binding is on."""

from __future__ import annotations

from shared.appservice.resources import app_resource_id
from shared.model import LinkedCertificate, SslBinding
from shared.overview import binding_state

OLD, NEW, OTHER = "A" * 40, "B" * 40, "C" * 40
CERT_ID = "/subscriptions/1111/resourceGroups/rg/providers/Microsoft.Web/certificates/shop"


def link(thumbprint: str) -> LinkedCertificate:
    return LinkedCertificate("shop", "rg", "https://vault.example.net/secrets/cert-shop", thumbprint=thumbprint)


def on(thumbprint: str) -> SslBinding:
    return SslBinding("web", "shop.example.com", "shop", thumbprint)


def test_a_binding_on_the_newest_version_is_in_sync() -> None:
    state = binding_state(on(NEW), link(NEW), NEW)
    assert (state.in_sync, state.state, state.reason) == (True, "InSync", "")


def test_a_binding_on_what_a_lagging_link_holds_lags_with_it() -> None:
    state = binding_state(on(OLD), link(OLD), NEW, "AzureServiceUnauthorizedToAccessKeyVault: ...")
    assert (state.in_sync, state.state) == (False, "LinkBehind")
    assert "behind the newest version" in state.reason and "AzureServiceUnauthorizedToAccessKeyVault" in state.reason


def test_a_binding_on_another_thumbprint_than_its_link_lags_its_link() -> None:
    state = binding_state(on(OTHER), link(NEW), NEW)
    assert (state.in_sync, state.state) == (False, "BindingBehind")
    assert "another certificate than its linked certificate holds" in state.reason


def test_without_a_known_newest_version_a_binding_is_measured_against_its_link() -> None:
    assert binding_state(on(OLD), link(OLD), "").in_sync


def test_the_app_resource_id_of_a_site_and_of_a_slot() -> None:
    site = "/subscriptions/1111/resourceGroups/rg-web/providers/Microsoft.Web/sites/web"
    assert app_resource_id(CERT_ID, "rg-web", "web") == site
    assert app_resource_id(CERT_ID, "rg-web", "web", "staging") == f"{site}/slots/staging"
    assert app_resource_id("", "rg-web", "web") == app_resource_id(CERT_ID, "", "web") == ""
