"""The App Service sweep unit within its time budget (on the fakes): a unit past its budget
queues a continuation after the last resource it finished (by secret id, then resource id, so
the resources of one secret split too), so a fleet of certificate resources is swept over
several invocations, each resource synced once; a redelivered unit queues no second
continuation, and links whose resource is gone still leave the index."""

from __future__ import annotations

import pytest

from shared.appservice.resources import ArmBinding, ArmCertificate, link_name
from shared.model import Operation, OperationKind, OperationStatus
from shared.operations import new_operation, submit
from shared.sweep import run_sweep, run_sweep_unit, start_sweep
from tests.fakes.context import Fakes, drain
from tests.service.conftest import SUB, VAULT_ID, app_service_fakes, arm_of, issued, upload_version

NAMES = ("api", "blog", "shop")


@pytest.fixture
def fakes() -> Fakes:
    return app_service_fakes()


def imported(fakes: Fakes, group: str, name: str, secret: str, hostname: str) -> ArmCertificate:
    arm = arm_of(fakes)
    cert = arm.put_certificate(ArmCertificate(SUB, group, name, "westeurope", VAULT_ID, secret, "plan"))
    arm.add_site(SUB, group, f"web-{group}")
    arm.put_binding(ArmBinding(SUB, group, f"web-{group}", hostname, "", "SniEnabled", cert.thumbprint))
    return cert


@pytest.fixture
def fleet(fakes: Fakes) -> dict[str, ArmCertificate]:
    """Three certificates, each imported by two resources (two resource groups), indexed by a sweep."""
    resources = {}
    for name in NAMES:
        hostname = f"{name}.example.com"
        secret = issued(fakes, name, (hostname,)).secret_name
        for group in ("rg-a", "rg-b"):
            resources[f"{group}/{name}"] = imported(fakes, group, name, secret, hostname)
    run_sweep(fakes.ctx)
    return resources


def app_service_units(fakes: Fakes) -> list[Operation]:
    """Oldest first (ids sort newest first)."""
    return sorted(fakes.ctx.operations.list(target="appService", kind=OperationKind.SWEEP.value), key=lambda o: o.id)[
        ::-1
    ]


def changed_outside(fakes: Fakes) -> dict[str, str]:
    """A new version of every secret put in Key Vault by hand: every resource is out of date."""
    return {
        name: upload_version(fakes, fakes.ctx.certificates.get(name).secret_name, (f"{name}.example.com",))[1]
        for name in NAMES
    }


def test_a_spent_budget_splits_the_sweep_and_each_resource_is_synced_once(
    fakes: Fakes, fleet: dict[str, ArmCertificate]
) -> None:
    new = changed_outside(fakes)
    before = arm_of(fakes).calls.copy()

    start_sweep(fakes.ctx, budget_seconds=0)  # a budget spent at once: one resource per unit
    drain(fakes)

    units = app_service_units(fakes)  # a secret's two resources split over two units too
    assert [u.status for u in units] == [OperationStatus.SUCCEEDED] * 6
    assert [u.result["appServiceCertificatesSynced"] for u in units] == [1] * 6
    assert [u.result["unfinishedSecrets"] for u in units] == [3, 2, 2, 1, 1, 0]
    assert [u.result.get("continuation") for u in units] == [u.id for u in units[1:]] + [None]
    checkpoints = [(u.parameters["after"], u.parameters["afterResource"]) for u in units[1:]]
    assert checkpoints == sorted(set(checkpoints))
    assert (arm_of(fakes).calls - before)["put_certificate"] == 6  # each out-of-date resource once
    listed = {f"{c.resource_group}/{c.name}": c.thumbprint for c in arm_of(fakes).list_certificates(SUB)}
    assert listed == {key: new[key.split("/")[1]] for key in fleet}


def test_a_redelivered_unit_queues_no_second_continuation(fakes: Fakes, fleet: dict[str, ArmCertificate]) -> None:
    changed_outside(fakes)
    unit = submit(fakes.ctx, new_operation(OperationKind.SWEEP, "appService", {"appService": True, "budgetSeconds": 0}))

    first = run_sweep_unit(fakes.ctx, unit)
    again = run_sweep_unit(fakes.ctx, unit)  # the host delivers it again (the first delivery's result was lost)

    assert first["continuation"] == again["continuation"]
    assert len(app_service_units(fakes)) == 2
    drain(fakes)
    assert len(app_service_units(fakes)) == 6  # the chain goes on from the one continuation, a resource a unit
    assert all(u.status is OperationStatus.SUCCEEDED for u in app_service_units(fakes))


def test_links_whose_resource_is_gone_leave_the_index_in_a_split_sweep(
    fakes: Fakes, fleet: dict[str, ArmCertificate]
) -> None:
    gone = fleet["rg-b/shop"]
    arm_of(fakes).delete_certificate(gone)
    changed_outside(fakes)

    start_sweep(fakes.ctx, budget_seconds=0)
    drain(fakes)

    units = app_service_units(fakes)
    assert [u.result["appServiceLinksRemoved"] for u in units] == [1, 0, 0, 0, 0]  # the first unit's pass
    assert fakes.ctx.links.find(link_name(gone)) is None
    assert fakes.ctx.bindings.for_link(link_name(gone)) == []
    assert all(fakes.ctx.links.find(link_name(c)) is not None for key, c in fleet.items() if key != "rg-b/shop")


def test_a_continuation_leaves_links_gone_to_the_next_first_unit(
    fakes: Fakes, fleet: dict[str, ArmCertificate]
) -> None:
    gone = fleet["rg-a/api"]
    arm_of(fakes).delete_certificate(gone)
    last = max(fakes.ctx.links.get(link_name(c)).secret_id for c in fleet.values())  # past every secret
    unit = submit(fakes.ctx, new_operation(OperationKind.SWEEP, "appService", {"appService": True, "after": last}))

    assert run_sweep_unit(fakes.ctx, unit)["appServiceLinksRemoved"] == 0
    assert fakes.ctx.links.find(link_name(gone)) is not None
    assert run_sweep(fakes.ctx).app_service["appServiceLinksRemoved"] == 1
    assert fakes.ctx.links.find(link_name(gone)) is None
