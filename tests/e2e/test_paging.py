"""List endpoints page the Azure way: {"value": [...], "nextLink": "..."}, bounded by $top."""
from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_races import issue


def follow(api, path: str) -> tuple[list[dict], int]:
    """Every item of a list, following nextLink; and how many pages it took."""
    items, pages, url = [], 0, f"{api.base}/api/{path}"
    while url:
        assert urlsplit(url).netloc == urlsplit(api.base).netloc  # the link stays on this host
        response = api.http.get(url, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["value"]
        pages += 1
        url = body.get("nextLink")
    return items, pages


@pytest.fixture(scope="module")
def fleet(api):
    name = f"paging-{os.urandom(3).hex()}"
    issue(api, name, [f"{name}.example.com", f"*.{name}.example.com"])
    links = [f"{name}-l{i}" for i in range(5)]
    for link in links:
        assert api.call("POST", "links", {"name": link, "certificate": name, "scope": "rg-paging"}).status_code == 201
    hosts = [f"h{i}.{name}.example.com" for i in range(7)]
    for i, host in enumerate(hosts):
        assert api.call("PUT", f"apps/{name}/bindings/{host}", {"link": links[i % 5]}).status_code == 201
    return name, links, hosts


def test_bindings_of_an_app_come_a_page_at_a_time(api, fleet):
    name, _, hosts = fleet
    first = api.call("GET", f"apps/{name}/bindings?$top=3").json()
    assert len(first["value"]) == 3 and "$skipToken=" in first["nextLink"] and "$top=3" in first["nextLink"]
    items, pages = follow(api, f"apps/{name}/bindings?$top=3")
    assert [b["hostname"] for b in items] == sorted(hosts) and pages == 3
    whole = api.call("GET", f"apps/{name}/bindings").json()
    assert len(whole["value"]) == 7 and "nextLink" not in whole


def test_links_and_certificates_pages_hold_everything_once(api, fleet):
    name, links, _ = fleet
    items, pages = follow(api, "links?$top=2")
    names = [link["name"] for link in items]
    assert len(names) == len(set(names)) and set(links) <= set(names) and pages >= 3
    certs, _ = follow(api, "certificates?$top=1")
    mine = [c for c in certs if c["name"] == name]
    assert len(mine) == 1 and mine[0]["linkCount"] == 5 and mine[0]["outOfSyncLinks"] == 0


def test_operations_page_with_their_filters(api, fleet):
    name, _, _ = fleet
    for _ in range(2):
        assert api.wait_operation(api.call("POST", f"certificates/{name}/sync", {}))["status"] == "Succeeded"
    items, _ = follow(api, f"operations?target={name}&$top=1")
    assert [op["kind"] for op in items] == ["syncCertificate", "syncCertificate", "issue"]  # newest first
    legacy = api.call("GET", f"operations?target={name}&top=1").json()
    assert len(legacy["value"]) == 1 and "target=" in legacy["nextLink"]


@pytest.mark.parametrize(
    "query, code",
    [
        ("$top=0", "InvalidTop"),
        ("$top=1001", "InvalidTop"),
        ("$top=ten", "InvalidTop"),
        ("$skipToken=not-a-token", "InvalidSkipToken"),
        ("$skipToken=" + "A" * 3000, "InvalidSkipToken"),
        ("$skipToken=WyJ4Il0", "InvalidSkipToken"),  # valid base64 JSON, wrong shape
    ],
)
def test_bad_paging_parameters_are_400(api, query, code):
    for path in ("links", "operations", "apps/some-app/bindings"):
        response = api.call("GET", f"{path}?{query}")
        assert response.status_code == 400 and response.json()["error"]["code"] == code, (path, response.text)
    assert api.call("GET", "certificates?$top=101").json()["error"]["code"] == "InvalidTop"
