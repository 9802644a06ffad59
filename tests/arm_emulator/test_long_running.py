"""Long-running operations: with the switch on, the spec's x-ms-long-running-operation PUTs answer
202 + Azure-AsyncOperation / Location, and azure-mgmt-web's pollers follow them unchanged."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.web.models import AppServicePlan, Site, SkuDescription

from .conftest import AppWorld
from .support import LOCATION, SUBSCRIPTION, RawArm

POLL = {"polling_interval": 0.01}  # no Retry-After unless the plan asks: the client's interval applies
TOKEN = {"Authorization": "Bearer test-token"}


def _switch(raw: RawArm, **plan: object) -> dict:
    response = raw.manage("PUT", "long-running", json=plan)
    assert response.status_code == 200, response.text
    return response.json()["plan"]


def test_site_put_answers_202_and_the_poller_follows_it_to_the_site(world: AppWorld, raw: RawArm) -> None:
    _switch(raw, operations=["sites.put"], polls=2)
    raw.manage("POST", "reset")

    poller = world.web.web_apps.begin_create_or_update(
        "apps", "shop", Site(location=LOCATION, server_farm_id=world.plan_id), **POLL
    )
    site = poller.result()

    assert site.name == "shop" and poller.status() == "Succeeded"
    counters = raw.counters()
    # the 202, two InProgress reads and the final one, then the GET the poller makes for the result
    assert (counters["sites.put"], counters["operationResults.get"], counters["sites.get"]) == (1, 3, 1)


def test_raw_202_names_the_status_resource_in_both_headers(world: AppWorld, raw: RawArm) -> None:
    _switch(raw, operations=["sites.put"], polls=1, retryAfter=1)
    path = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/apps/providers/Microsoft.Web/sites/raw"

    accepted = raw.call("PUT", path, json={"location": LOCATION, "properties": {"serverFarmId": world.plan_id}})
    monitor = accepted.headers["Azure-AsyncOperation"]
    running = raw.fetch("GET", monitor, headers=TOKEN)
    done = raw.fetch("GET", monitor, headers=TOKEN)

    assert accepted.status_code == 202 and accepted.headers["Location"] == monitor
    assert accepted.headers["Retry-After"] == "1" and accepted.json()["name"] == "raw"
    assert monitor.startswith(f"{raw.url}{path}/operationresults/") and "api-version=" in monitor
    assert (running.status_code, running.json()["status"]) == (202, "InProgress")
    assert (done.status_code, done.json()["status"]) == (200, "Succeeded") and "endTime" in done.json()


def test_a_failed_operation_raises_its_error_and_leaves_nothing_behind(world: AppWorld, raw: RawArm) -> None:
    _switch(raw, operations=["sites.put", "sites.slots.put"], outcome="Failed",
            error={"code": "Conflict", "message": "The plan is being scaled."})  # fmt: skip

    with pytest.raises(HttpResponseError) as caught:
        world.web.web_apps.begin_create_or_update(
            "apps", "shop", Site(location=LOCATION, server_farm_id=world.plan_id), **POLL
        ).result()

    assert caught.value.error is not None and caught.value.error.code == "Conflict"
    assert "The plan is being scaled." in str(caught.value)
    with pytest.raises(ResourceNotFoundError):
        world.web.web_apps.get("apps", "shop")


def test_a_failed_update_puts_the_old_resource_back(world: AppWorld, raw: RawArm) -> None:
    world.site("shop")
    _switch(raw, operations=["sites.put"], outcome="Failed")

    with pytest.raises(HttpResponseError):
        world.web.web_apps.begin_create_or_update(
            "apps", "shop", Site(location=LOCATION, server_farm_id=world.plan_id, tags={"new": "tag"}), **POLL
        ).result()

    assert not world.web.web_apps.get("apps", "shop").tags
    assert [b.name for b in world.web.web_apps.list_host_name_bindings("apps", "shop")] == [
        "shop/shop.azurewebsites.net"
    ]


def test_slots_and_plans_follow_the_switch_too(world: AppWorld, raw: RawArm) -> None:
    world.site("shop")
    _switch(raw, polls=1)

    slot = world.web.web_apps.begin_create_or_update_slot("apps", "shop", "staging", Site(location=LOCATION), **POLL)
    plan = world.web.app_service_plans.begin_create_or_update(
        "apps", "plan2", AppServicePlan(location=LOCATION, sku=SkuDescription(name="B1")), **POLL
    )

    assert slot.result().name == "shop/staging" and plan.result().name == "plan2"
    assert raw.counters()["operationResults.get"] == 4


def test_validation_errors_still_answer_at_once(world: AppWorld, raw: RawArm) -> None:
    _switch(raw)
    path = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/apps/providers/Microsoft.Web/sites/nolocation"

    refused = raw.call("PUT", path, json={"properties": {}})

    assert refused.status_code == 400 and refused.json()["error"]["code"] == "LocationRequired"


@pytest.mark.parametrize(
    "plan",
    [
        {"operations": ["certificates.put"]},  # Certificates_CreateOrUpdate answers 200 only
        {"operations": ["sites.hostNameBindings.put"]},
        {"operations": []},
        {"polls": -1},
        {"polls": True},
        {"outcome": "Done"},
        {"error": "boom"},
        {"retryAfter": 3600},
        {"colour": "red"},
    ],
)
def test_plans_outside_the_specs_are_refused(raw: RawArm, plan: dict) -> None:
    refused = raw.manage("PUT", "long-running", json=plan)

    assert refused.status_code == 400 and refused.json()["error"]["code"] == "BadParameter"
    assert raw.manage("GET", "long-running").json() == {"plan": None}


def test_an_unknown_operation_id_is_a_404(world: AppWorld, raw: RawArm) -> None:
    path = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/apps/providers/Microsoft.Web/sites/x/operationresults/NOPE"

    missing = raw.call("GET", path)

    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"


def test_switch_off_answers_at_once(world: AppWorld, raw: RawArm) -> None:
    _switch(raw)
    assert raw.manage("DELETE", "long-running").status_code == 204
    path = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/apps/providers/Microsoft.Web/sites/direct"

    put = raw.call("PUT", path, json={"location": LOCATION, "properties": {"serverFarmId": world.plan_id}})

    assert put.status_code == 200 and "Azure-AsyncOperation" not in put.headers
