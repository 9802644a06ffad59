"""Hostname bindings on sites and slots, and App Service's rules for SSL bindings."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web.models import AppServicePlan, HostNameBinding, Site, SkuDescription

from .conftest import AppWorld
from .support import LOCAL_VAULT_ID, LOCATION, make_pfx


def _bind(world: AppWorld, site: str, host: str, thumbprint: str | None, slot: str | None = None) -> HostNameBinding:
    binding = HostNameBinding(ssl_state="SniEnabled" if thumbprint else "Disabled", thumbprint=thumbprint)
    if slot:
        return world.web.web_apps.create_or_update_host_name_binding_slot("apps", site, host, slot, binding)
    return world.web.web_apps.create_or_update_host_name_binding("apps", site, host, binding)


def _error(call) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as caught:
        call()
    return caught.value


def test_sni_binding_shows_on_the_site(world: AppWorld) -> None:
    world.site("shop")
    cert = world.import_cert("shop", make_pfx("shop.example.com"))

    binding = _bind(world, "shop", "shop.example.com", cert.thumbprint)
    site = world.web.web_apps.get("apps", "shop")

    assert binding.ssl_state == "SniEnabled" and binding.thumbprint == cert.thumbprint
    assert binding.name == "shop/shop.example.com"
    assert "shop.example.com" in (site.host_names or [])
    states = {s.name: (s.ssl_state, s.thumbprint) for s in site.host_name_ssl_states or []}
    assert states["shop.example.com"] == ("SniEnabled", cert.thumbprint)
    assert states["shop.azurewebsites.net"] == ("Disabled", None)


def test_list_bindings_includes_the_default_hostname(world: AppWorld) -> None:
    world.site("shop")
    _bind(world, "shop", "a.example.com", None)
    _bind(world, "shop", "b.example.com", None)

    names = sorted(b.name for b in world.web.web_apps.list_host_name_bindings("apps", "shop"))

    assert names == ["shop/a.example.com", "shop/b.example.com", "shop/shop.azurewebsites.net"]


def test_slot_bindings_are_the_slots_own(world: AppWorld) -> None:
    world.site("shop")
    world.web.web_apps.begin_create_or_update_slot("apps", "shop", "staging", Site(location=LOCATION)).result()
    cert = world.import_cert("wild", make_pfx("*.example.com"))

    _bind(world, "shop", "staging.example.com", cert.thumbprint, slot="staging")
    slot_names = [b.name for b in world.web.web_apps.list_host_name_bindings_slot("apps", "shop", "staging")]
    site_names = [b.name for b in world.web.web_apps.list_host_name_bindings("apps", "shop")]
    slot = world.web.web_apps.get_slot("apps", "shop", "staging")

    assert sorted(slot_names) == ["shop/staging/shop-staging.azurewebsites.net", "shop/staging/staging.example.com"]
    assert site_names == ["shop/shop.azurewebsites.net"]
    assert any(
        s.name == "staging.example.com" and s.thumbprint == cert.thumbprint for s in slot.host_name_ssl_states or []
    )


def test_thumbprint_must_name_a_certificate_in_the_webspace(world: AppWorld, groups: ResourceManagementClient) -> None:
    world.site("shop")
    groups.resource_groups.create_or_update("other", {"location": LOCATION})
    elsewhere = world.import_cert("elsewhere", make_pfx("shop.example.com"), group="other")

    err = _error(lambda: _bind(world, "shop", "shop.example.com", elsewhere.thumbprint))

    assert err.status_code == 400 and err.error is not None and err.error.code == "BadRequest"
    assert "webspace" in err.error.message


def test_certificate_in_another_region_is_another_webspace(world: AppWorld) -> None:
    world.site("shop")
    pfx = make_pfx("shop.example.com")
    world.secrets.set_secret("east", pfx.value, content_type="application/x-pkcs12")
    world.web.certificates.create_or_update(
        "apps",
        "east",
        {"location": "eastus", "properties": {"keyVaultId": LOCAL_VAULT_ID, "keyVaultSecretName": "east"}},
    )

    err = _error(lambda: _bind(world, "shop", "shop.example.com", pfx.thumbprint))

    assert err.status_code == 400


def test_certificate_must_cover_the_hostname(world: AppWorld) -> None:
    world.site("shop")
    cert = world.import_cert("other", make_pfx("other.example.com", "*.example.org"))

    err = _error(lambda: _bind(world, "shop", "shop.example.com", cert.thumbprint))
    deep = _error(lambda: _bind(world, "shop", "a.b.example.org", cert.thumbprint))

    assert err.status_code == 400 and "does not cover" in (err.error.message if err.error else "")
    assert deep.status_code == 400


def test_ssl_binding_needs_a_thumbprint(world: AppWorld) -> None:
    world.site("shop")

    err = _error(
        lambda: world.web.web_apps.create_or_update_host_name_binding(
            "apps", "shop", "shop.example.com", HostNameBinding(ssl_state="SniEnabled")
        )
    )

    assert err.status_code == 400


def test_a_hostname_belongs_to_one_app(world: AppWorld) -> None:
    world.site("shop")
    world.site("blog")
    _bind(world, "shop", "shop.example.com", None)

    err = _error(lambda: _bind(world, "blog", "shop.example.com", None))

    assert err.status_code == 409


def test_binding_can_be_moved_to_ssl_and_back_then_deleted(world: AppWorld) -> None:
    world.site("shop")
    cert = world.import_cert("shop", make_pfx("shop.example.com"))
    _bind(world, "shop", "shop.example.com", None)
    _bind(world, "shop", "shop.example.com", cert.thumbprint)

    disabled = _bind(world, "shop", "shop.example.com", None)
    world.web.web_apps.delete_host_name_binding("apps", "shop", "shop.example.com")

    assert disabled.ssl_state == "Disabled" and disabled.thumbprint is None
    err = _error(lambda: world.web.web_apps.get_host_name_binding("apps", "shop", "shop.example.com"))
    assert err.status_code == 404 and err.error is not None and err.error.code == "ResourceNotFound"


def test_default_hostname_binding_is_managed(world: AppWorld) -> None:
    world.site("shop")

    err = _error(lambda: world.web.web_apps.delete_host_name_binding("apps", "shop", "shop.azurewebsites.net"))

    assert err.status_code == 400


def test_binding_on_a_missing_site_is_not_found(world: AppWorld) -> None:
    err = _error(lambda: _bind(world, "ghost", "ghost.example.com", None))

    assert err.status_code == 404 and err.error is not None and err.error.code == "ResourceNotFound"


def test_invalid_hostname(world: AppWorld) -> None:
    world.site("shop")

    err = _error(lambda: _bind(world, "shop", "not a host", None))

    assert err.status_code == 400


def test_sites_plans_and_slots_list_with_paging(world: AppWorld) -> None:
    for name in ("s1", "s2", "s3"):
        world.site(name)
    for slot in ("a", "b", "c"):
        world.web.web_apps.begin_create_or_update_slot("apps", "s1", slot, Site(location=LOCATION)).result()
    world.web.app_service_plans.begin_create_or_update(
        "apps", "plan2", AppServicePlan(location=LOCATION, sku=SkuDescription(name="B1"))
    ).result()

    assert sorted(s.name for s in world.web.web_apps.list()) == ["s1", "s2", "s3"]
    assert sorted(s.name for s in world.web.web_apps.list_by_resource_group("apps")) == ["s1", "s2", "s3"]
    assert sorted(s.name for s in world.web.web_apps.list_slots("apps", "s1")) == ["s1/a", "s1/b", "s1/c"]
    plans = {p.name: p.number_of_sites for p in world.web.app_service_plans.list()}
    assert plans == {"plan": 3, "plan2": 0}


def test_site_names_are_global_and_plans_in_use_stay(world: AppWorld, groups: ResourceManagementClient) -> None:
    world.site("shop")
    groups.resource_groups.create_or_update("other", {"location": LOCATION})

    taken = _error(
        lambda: world.web.web_apps.begin_create_or_update(
            "other", "shop", Site(location=LOCATION, server_farm_id=world.plan_id)
        ).result()
    )
    in_use = _error(lambda: world.web.app_service_plans.delete("apps", "plan"))

    assert taken.status_code == 409
    assert in_use.status_code == 409


def test_deleting_a_site_removes_its_slots_and_bindings(world: AppWorld) -> None:
    world.site("shop")
    world.web.web_apps.begin_create_or_update_slot("apps", "shop", "staging", Site(location=LOCATION)).result()
    _bind(world, "shop", "shop.example.com", None)

    world.web.web_apps.delete("apps", "shop")
    world.site("shop")

    assert list(world.web.web_apps.list_slots("apps", "shop")) == []
    assert [b.name for b in world.web.web_apps.list_host_name_bindings("apps", "shop")] == [
        "shop/shop.azurewebsites.net"
    ]
