"""The /_emulator/ surface: counters, reset, fault injection, observed through the SDKs."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient

from .conftest import AppWorld
from .support import LOCATION, SUBSCRIPTION, RawArm, make_pfx


def test_counters_by_operation(world: AppWorld, raw: RawArm) -> None:
    raw.manage("POST", "reset").raise_for_status()
    world.site("shop")
    cert = world.import_cert("shop", make_pfx("shop.example.com"))
    world.web.web_apps.create_or_update_host_name_binding(
        "apps", "shop", "shop.example.com", {"properties": {"sslState": "SniEnabled", "thumbprint": cert.thumbprint}}
    )
    list(world.web.certificates.list())
    list(world.web.web_apps.list_host_name_bindings("apps", "shop"))

    assert raw.counters() == {
        "sites.put": 1,
        "certificates.put": 1,
        "sites.hostNameBindings.put": 1,
        "certificates.list": 1,
        "sites.hostNameBindings.list": 1,
        "total": 5,
    }


def test_reset_keeps_or_clears_data(groups: ResourceManagementClient, raw: RawArm) -> None:
    groups.resource_groups.create_or_update("rg", {"location": LOCATION})

    raw.manage("POST", "reset").raise_for_status()
    kept = groups.resource_groups.check_existence("rg")
    raw.manage("POST", "reset", params={"data": "true"}).raise_for_status()

    assert kept is True
    assert [g.name for g in groups.resource_groups.list()] == ["certsync-local"]


def test_throttling_with_retry_after_for_one_subscription(make_web, raw: RawArm) -> None:
    raw.manage(
        "PUT",
        "faults",
        json={"status": 429, "retryAfter": 7, "operations": ["sites.list"], "subscriptions": [SUBSCRIPTION]},
    ).raise_for_status()
    throttled = make_web(retry_total=0)
    other = make_web("22222222-2222-2222-2222-222222222222", retry_total=0)

    with pytest.raises(HttpResponseError) as caught:
        list(throttled.web_apps.list())
    other_sites = list(other.web_apps.list())

    assert caught.value.status_code == 429
    assert caught.value.response is not None and caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.error is not None and caught.value.error.code == "SubscriptionRequestsThrottled"
    assert other_sites == []
    assert raw.counters()["fault"] == 1


def test_sdk_retries_through_a_counted_503(web, raw: RawArm) -> None:
    raw.manage("PUT", "faults", json={"status": 503, "retryAfter": 0, "count": 1}).raise_for_status()

    sites = list(web.web_apps.list())

    assert sites == []
    assert raw.counters()["sites.list"] == 2
    assert raw.manage("GET", "faults").json() == {"plan": None}


def test_added_latency(web, raw: RawArm) -> None:
    raw.manage("PUT", "faults", json={"latencyMs": 300, "operations": ["certificates.list"]}).raise_for_status()

    started = time.monotonic()
    list(web.certificates.list())

    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    "plan",
    [{"status": 42}, {"operations": ["nope.list"], "status": 500}, {"subscriptions": "x", "status": 429}, {}],
)
def test_bad_fault_plans_are_refused(raw: RawArm, plan: dict) -> None:
    response = raw.manage("PUT", "faults", json=plan)

    assert response.status_code == 400
    assert raw.manage("GET", "faults").json() == {"plan": None}


def test_keyvault_access_switch_validates(raw: RawArm) -> None:
    assert raw.manage("PUT", "keyvault-access", json={"allowed": "no"}).status_code == 400
    assert raw.manage("GET", "keyvault-access").json() == {"allowed": True}
