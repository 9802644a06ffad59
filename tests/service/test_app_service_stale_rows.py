"""Index rows of what ARM no longer holds go at the next sweep or sync (on the fakes): a deleted
certificate resource, a deleted site or slot, a hostname whose SSL was turned off. The overview
never counts them. A link or binding made while the sweep lists ARM is never taken for stale."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.appservice import sync as appservice
from shared.appservice.linking import AppLinkRequest, bind_hostname, link_to_app
from shared.appservice.resources import ArmBinding, ArmCertificate, link_name
from shared.errors import NotFound
from shared.links import delete_binding
from shared.overview import certificate_overview, certificate_summary
from shared.sweep import run_sweep
from shared.sync.executor import sync_link
from tests.fakes.context import Fakes
from tests.service.conftest import SUB, VAULT_ID, app_service_fakes, arm_of, issued

HOSTS = ("shop.example.com", "www.shop.example.com", "api.shop.example.com")
SITE = "web-rg-a"


@pytest.fixture
def fakes() -> Fakes:
    return app_service_fakes()


@pytest.fixture
def indexed(fakes: Fakes) -> ArmCertificate:
    """A portal import bound on the site (two hostnames) and its slot, indexed by a sweep."""
    secret = issued(fakes, "shop", HOSTS).secret_name
    arm = arm_of(fakes)
    cert = arm.put_certificate(ArmCertificate(SUB, "rg-a", "shop", "westeurope", VAULT_ID, secret, "plan"))
    arm.add_site(SUB, "rg-a", SITE)
    arm.add_site(SUB, "rg-a", SITE, "staging")
    arm.put_binding(ArmBinding(SUB, "rg-a", SITE, HOSTS[0], "", "SniEnabled", cert.thumbprint))
    arm.put_binding(ArmBinding(SUB, "rg-a", SITE, HOSTS[2], "", "SniEnabled", cert.thumbprint))
    arm.put_binding(ArmBinding(SUB, "rg-a", SITE, HOSTS[1], "staging", "SniEnabled", cert.thumbprint))
    run_sweep(fakes.ctx)
    assert len(rows(fakes, cert)) == 3
    return cert


def rows(fakes: Fakes, cert: ArmCertificate) -> list[tuple[str, str, str]]:
    return sorted((b.app, b.slot, b.hostname) for b in fakes.ctx.bindings.for_link(link_name(cert)))


def overview_links(fakes: Fakes) -> list[dict]:
    overview = certificate_overview(fakes.ctx, "shop")
    return [
        {"name": s.link.name, "inSync": s.in_sync, "bindings": sorted((b.slot, b.hostname) for b in s.bindings)}
        for s in overview.links
    ]


def test_a_certificate_resource_deleted_in_arm_leaves_the_index_at_the_next_sweep(
    fakes: Fakes, indexed: ArmCertificate
) -> None:
    arm_of(fakes).delete_certificate(indexed)

    report = run_sweep(fakes.ctx)

    assert report.app_service["appServiceLinksRemoved"] == 1
    assert fakes.ctx.links.find(link_name(indexed)) is None
    assert rows(fakes, indexed) == []
    assert overview_links(fakes) == []
    summary = certificate_summary(fakes.ctx, fakes.ctx.certificates.get("shop"))
    assert (summary.links, summary.out_of_sync_links) == (0, 0)


def test_a_deleted_resource_leaves_the_index_at_the_next_sync_of_its_certificate(
    fakes: Fakes, indexed: ArmCertificate
) -> None:
    arm_of(fakes).delete_certificate(indexed)

    result = appservice.sync_secret(fakes.ctx, fakes.ctx.secret_of(fakes.ctx.certificates.get("shop")), "shop")

    assert result.links_removed == 1 and overview_links(fakes) == []


def test_a_link_sync_of_a_deleted_resource_removes_its_rows_and_says_so(fakes: Fakes, indexed: ArmCertificate) -> None:
    arm_of(fakes).delete_certificate(indexed)

    with pytest.raises(NotFound) as refused:
        sync_link(fakes.ctx, link_name(indexed))

    assert refused.value.code == "LinkNotFound" and "no longer exists" in refused.value.message
    assert fakes.ctx.links.find(link_name(indexed)) is None and rows(fakes, indexed) == []


def test_a_deleted_slot_takes_only_its_binding_row(fakes: Fakes, indexed: ArmCertificate) -> None:
    arm_of(fakes).delete_app(SUB, "rg-a", SITE, "staging")

    report = run_sweep(fakes.ctx)

    assert report.app_service["appServiceBindingsRemoved"] == 1
    assert rows(fakes, indexed) == [(SITE, "", HOSTS[2]), (SITE, "", HOSTS[0])]
    assert overview_links(fakes) == [
        {"name": link_name(indexed), "inSync": True, "bindings": [("", HOSTS[2]), ("", HOSTS[0])]}
    ]


def test_a_deleted_site_takes_its_slots_binding_rows_too(fakes: Fakes, indexed: ArmCertificate) -> None:
    arm_of(fakes).delete_app(SUB, "rg-a", SITE)

    run_sweep(fakes.ctx)

    assert rows(fakes, indexed) == []
    assert overview_links(fakes) == [{"name": link_name(indexed), "inSync": True, "bindings": []}]


def test_a_hostname_whose_ssl_was_turned_off_leaves_the_index(fakes: Fakes, indexed: ArmCertificate) -> None:
    arm_of(fakes).put_binding(ArmBinding(SUB, "rg-a", SITE, HOSTS[0], "", "Disabled", ""))

    run_sweep(fakes.ctx)

    assert rows(fakes, indexed) == [(SITE, "", HOSTS[2]), (SITE, "staging", HOSTS[1])]


def test_stale_binding_rows_go_with_the_sync_that_moves_the_rest(fakes: Fakes, indexed: ArmCertificate) -> None:
    """A renewal's sync lists the group anyway: a binding gone from ARM is dropped, not counted."""
    arm_of(fakes).delete_app(SUB, "rg-a", SITE, "staging")
    arm_of(fakes).put_binding(ArmBinding(SUB, "rg-a", SITE, HOSTS[2], "", "Disabled", ""))
    fakes.vault.set_secret(indexed.key_vault_secret_name, fakes.vault.get_secret(indexed.key_vault_secret_name).value)

    result = appservice.sync_secret(fakes.ctx, fakes.ctx.secret_of(fakes.ctx.certificates.get("shop")), "shop")

    assert result.bindings_removed == 2
    assert rows(fakes, indexed) == [(SITE, "", HOSTS[0])]


def test_a_link_made_while_the_sweep_lists_arm_is_not_taken_for_stale(fakes: Fakes, indexed: ArmCertificate) -> None:
    """The sweep's listing misses a resource created (and indexed) just after it: the new link
    was not in the index the sweep read before listing, so it stays."""
    arm = arm_of(fakes)
    arm.add_site(SUB, "rg-b", "web-rg-b")
    listing = arm.list_certificates

    def list_then_link(subscription: str) -> list[ArmCertificate]:
        seen = listing(subscription)
        arm.list_certificates = listing  # type: ignore[method-assign]
        link_to_app(fakes.ctx, AppLinkRequest("web-rg-b", "shop", "rg-b", hostnames=(HOSTS[0],)))
        return seen

    arm.list_certificates = list_then_link  # type: ignore[method-assign]
    report = run_sweep(fakes.ctx)

    assert report.app_service["appServiceLinksRemoved"] == 0
    assert [s.link.scope for s in certificate_overview(fakes.ctx, "shop").links] == ["rg-a", "rg-b"]


def test_a_binding_rewritten_after_the_sweep_read_the_index_stays(fakes: Fakes, indexed: ArmCertificate) -> None:
    """SSL turned off in the portal, then bound again through certsync while the sweep lists: the
    row the sweep read was rewritten since (same values, new ETag), so its delete loses."""
    arm = arm_of(fakes)
    arm.put_binding(ArmBinding(SUB, "rg-a", SITE, HOSTS[0], "", "Disabled", ""))
    link = fakes.ctx.links.get(link_name(indexed))
    listing = arm.list_bindings

    def list_then_rebind(subscription: str, group: str) -> list[ArmBinding]:
        seen = listing(subscription, group)
        arm.list_bindings = listing  # type: ignore[method-assign]
        bind_hostname(fakes.ctx, link, SITE, HOSTS[0], "SniEnabled")
        return seen

    arm.list_bindings = list_then_rebind  # type: ignore[method-assign]
    run_sweep(fakes.ctx)

    assert (SITE, "", HOSTS[0]) in rows(fakes, indexed)
    assert arm.get_binding(ArmBinding(SUB, "rg-a", SITE, HOSTS[0])).thumbprint == indexed.thumbprint


def test_removing_an_app_service_binding_turns_its_ssl_off_in_arm(fakes: Fakes, indexed: ArmCertificate) -> None:
    """DELETE /apps/{app}/bindings/{hostname}: before, only the row went and the next sync indexed
    the binding again from ARM, where it still served the certificate."""
    delete_binding(fakes.ctx, SITE, HOSTS[2])

    probe = ArmBinding(SUB, "rg-a", SITE, HOSTS[2])
    assert arm_of(fakes).get_binding(probe).thumbprint == ""
    appservice.sync_secret(fakes.ctx, fakes.ctx.secret_of(fakes.ctx.certificates.get("shop")), "shop")
    assert rows(fakes, indexed) == [(SITE, "", HOSTS[0]), (SITE, "staging", HOSTS[1])]


def test_removing_a_binding_arm_moved_elsewhere_leaves_arm_alone(fakes: Fakes, indexed: ArmCertificate) -> None:
    arm = arm_of(fakes)
    mine = arm.get_binding(ArmBinding(SUB, "rg-a", SITE, HOSTS[2]))
    arm.bindings[(SUB, "rg-a", SITE, "", HOSTS[2])] = replace(mine, thumbprint="F" * 40)  # a user's other certificate

    delete_binding(fakes.ctx, SITE, HOSTS[2])

    assert arm.get_binding(ArmBinding(SUB, "rg-a", SITE, HOSTS[2])).thumbprint == "F" * 40
    assert (SITE, "", HOSTS[2]) not in rows(fakes, indexed)
