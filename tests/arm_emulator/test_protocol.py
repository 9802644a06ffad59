"""ARM protocol details the SDK hides: api-version, auth, error envelopes, paging links, headers."""

from __future__ import annotations

import base64
import json

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from devtools.arm_emulator import EmulatorHandle
from tests.raw_http import BAD_REQUEST_LINES, exchange_tls, status_of

from .support import LOCATION, SUBSCRIPTION, RawArm

GROUPS = f"/subscriptions/{SUBSCRIPTION}/resourcegroups"


def test_resource_group_create_update_get_exists_delete(groups: ResourceManagementClient) -> None:
    created = groups.resource_groups.create_or_update("rg", {"location": LOCATION, "tags": {"team": "a"}})
    updated = groups.resource_groups.create_or_update("rg", {"location": LOCATION, "tags": {"team": "b"}})

    assert created.id == f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"
    assert updated.tags == {"team": "b"}
    assert groups.resource_groups.check_existence("rg") is True
    groups.resource_groups.begin_delete("rg").result()
    assert groups.resource_groups.check_existence("rg") is False
    with pytest.raises(ResourceNotFoundError) as caught:
        groups.resource_groups.get("rg")
    assert caught.value.error is not None and caught.value.error.code == "ResourceGroupNotFound"


def test_create_answers_201_then_200(raw: RawArm) -> None:
    first = raw.call("PUT", f"{GROUPS}/rg", json={"location": LOCATION}, api_version="2025-04-01")
    second = raw.call("PUT", f"{GROUPS}/rg", json={"location": LOCATION}, api_version="2025-04-01")
    moved = raw.call("PUT", f"{GROUPS}/rg", json={"location": "eastus"}, api_version="2025-04-01")

    assert (first.status_code, second.status_code) == (201, 200)
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "InvalidResourceGroupLocation"


def test_the_local_vault_is_known_to_arm(raw: RawArm, arm, vault) -> None:
    path = f"{GROUPS}/certsync-local/providers/Microsoft.KeyVault/vaults/local"

    response = raw.call("GET", path, api_version="2023-07-01")

    assert response.status_code == 200
    assert response.json()["properties"]["vaultUri"] == vault.url + "/"


def test_resource_group_list_pages(groups: ResourceManagementClient, raw: RawArm) -> None:
    for name in ("a", "b", "c", "d"):
        groups.resource_groups.create_or_update(name, {"location": LOCATION})

    names = [g.name for g in groups.resource_groups.list()]
    first = raw.call("GET", GROUPS, api_version="2025-04-01").json()
    second = raw.session.get(first["nextLink"], headers={"Authorization": "Bearer t"}, verify=raw.cert_path).json()

    assert sorted(names) == ["a", "b", "c", "certsync-local", "d"]
    assert [g["name"] for g in first["value"]] == ["a", "b"]
    assert [g["name"] for g in second["value"]] == ["c", "certsync-local"]


def _token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


@pytest.mark.parametrize(
    "marker", ["foo", "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/a", f"{GROUPS}/A"]
)
def test_a_skiptoken_this_list_never_handed_out_is_400(raw: RawArm, marker: str) -> None:
    response = raw.call("GET", GROUPS, api_version="2025-04-01", params={"$skiptoken": _token(marker)})

    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidSkipToken"


def test_a_skiptoken_past_the_end_gives_an_empty_page(raw: RawArm) -> None:
    response = raw.call("GET", GROUPS, api_version="2025-04-01", params={"$skiptoken": _token(f"{GROUPS}/zzz")})

    assert response.status_code == 200 and response.json()["value"] == []


@pytest.mark.parametrize(
    ("api_version", "code"),
    [
        (None, "MissingApiVersionParameter"),
        ("", "MissingApiVersionParameter"),
        ("2015-08-01", "NoRegisteredProviderFound"),
    ],
)
def test_api_version_is_required_and_checked(raw: RawArm, api_version: str | None, code: str) -> None:
    path = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Web/sites"
    response = raw.call(
        "GET", path, api_version=None, params={} if api_version is None else {"api-version": api_version}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_missing_token_is_refused(raw: RawArm) -> None:
    response = raw.call("GET", GROUPS, token=False, api_version="2025-04-01")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/subscriptions/not-a-guid/resourcegroups", None, 400, "InvalidSubscriptionId"),
        ("GET", f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Sql/servers", None, 404, "InvalidResourceType"),
        ("POST", f"{GROUPS}/rg", None, 405, "MethodNotAllowed"),
        ("PUT", f"{GROUPS}/rg", b"{not json", 400, "InvalidRequestContent"),
        ("PUT", f"{GROUPS}/rg", b"[]", 400, "InvalidRequestContent"),
        ("PUT", f"{GROUPS}/rg", b"{}", 400, "LocationRequired"),
        ("PUT", f"{GROUPS}/bad%20name!", b'{"location": "westeurope"}', 400, "InvalidResourceName"),
        ("GET", f"{GROUPS}/nope/providers/Microsoft.Web/sites/x", None, 404, "ResourceGroupNotFound"),
        ("GET", GROUPS, None, 400, "InvalidSkipToken"),
    ],
)
def test_bad_requests_get_arm_errors(
    raw: RawArm, method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    params = {"$skiptoken": "%%%"} if code == "InvalidSkipToken" else {}
    api_version = "2025-04-01" if "/resourcegroups" in path and "/providers/" not in path else "2025-05-01"

    response = raw.call(method, path, data=body, api_version=api_version, params=params)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert set(response.json()["error"]) == {"code", "message"}


def test_rate_limit_headers_count_down_per_subscription(raw: RawArm) -> None:
    first = raw.call("GET", GROUPS, api_version="2025-04-01")
    second = raw.call("GET", GROUPS, api_version="2025-04-01")
    write = raw.call("PUT", f"{GROUPS}/rg", json={"location": LOCATION}, api_version="2025-04-01")
    other = raw.call(
        "GET", GROUPS.replace(SUBSCRIPTION, "22222222-2222-2222-2222-222222222222"), api_version="2025-04-01"
    )

    reads = [int(r.headers["x-ms-ratelimit-remaining-subscription-reads"]) for r in (first, second, other)]
    assert reads[1] == reads[0] - 1 and reads[2] > reads[1]
    assert int(write.headers["x-ms-ratelimit-remaining-subscription-writes"]) > 0


def test_not_found_site_has_arm_wording(raw: RawArm) -> None:
    raw.call("PUT", f"{GROUPS}/rg", json={"location": LOCATION}, api_version="2025-04-01")

    response = raw.call("GET", f"{GROUPS}/rg/providers/Microsoft.Web/sites/ghost")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "ResourceNotFound",
        "message": "The Resource 'Microsoft.Web/sites/ghost' under resource group 'rg' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    }


def test_other_subscriptions_are_separate(groups: ResourceManagementClient, make_web) -> None:
    groups.resource_groups.create_or_update("rg", {"location": LOCATION})
    other = make_web("22222222-2222-2222-2222-222222222222")

    with pytest.raises(HttpResponseError) as caught:
        list(other.web_apps.list_by_resource_group("rg"))

    assert caught.value.status_code == 404


@pytest.mark.parametrize(
    ("data", "status"), [(d, s) for _, d, s in BAD_REQUEST_LINES], ids=[i for i, _, _ in BAD_REQUEST_LINES]
)
def test_unparsable_requests_get_a_status_line_on_the_api_and_the_tls_front(
    arm: EmulatorHandle, data: bytes, status: int
) -> None:
    api = exchange_tls(arm.port, data)
    front = exchange_tls(arm.tls_port, data)

    assert (status_of(api), status_of(front)) == (status, status), (api[:200], front[:200])
    assert json.loads(api.partition(b"\r\n\r\n")[2])["error"]["code"]
    assert b"Connection: close" in front.partition(b"\r\n\r\n")[0]


@pytest.mark.parametrize("method", ["OPTIONS", "get", "BREW"])
def test_any_other_method_is_405_in_arm_words(arm: EmulatorHandle, method: str) -> None:
    request = f"{method} {GROUPS}?api-version=2025-04-01 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
    reply = exchange_tls(arm.port, request.encode() + b"Connection: close\r\n\r\n")

    assert status_of(reply) == 405, reply[:200]
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["error"]["code"]


DEEP_JSON = b"[" * 100_000 + b"]" * 100_000  # parses only with unbounded recursion


def test_a_body_nested_too_deep_is_invalid_request_content_not_500(raw: RawArm) -> None:
    headers = {"Content-Type": "application/json"}
    response = raw.call("PUT", f"{GROUPS}/rg", data=DEEP_JSON, headers=headers, api_version="2025-04-01")
    plan = raw.manage("PUT", "faults", data=DEEP_JSON)

    assert response.status_code == 400, response.text[:200]
    assert response.json()["error"]["code"] == "InvalidRequestContent"
    assert plan.status_code == 400, plan.text[:200]


def test_closing_connections_say_close_notify_on_the_api_and_the_tls_front(arm: EmulatorHandle) -> None:
    listing = f"GET {GROUPS}?api-version=2025-04-01 HTTP/1.0\r\nAuthorization: Bearer t\r\n\r\n"
    api = exchange_tls(arm.port, listing.encode())
    front = exchange_tls(arm.tls_port, b"GET / HTTP/1.0\r\nHost: nothing.example.com\r\n\r\n")  # SSLEOFError if bare

    assert (status_of(api), status_of(front)) == (200, 404)
