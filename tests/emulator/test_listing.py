"""Listing and paging: maxresults 1..25, absolute nextLink, no values in list items."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from azure.keyvault.secrets import SecretClient

from devtools.kv_emulator import EmulatorHandle

from .support import RawVault


def _names(count: int, prefix: str = "app") -> list[str]:
    return [f"{prefix}-{i:03d}" for i in range(count)]


def test_sixty_secrets_page_through_absolute_next_links(
    client: SecretClient, emulator: EmulatorHandle, raw: RawVault
) -> None:
    for name in _names(60):
        client.set_secret(name, f"value-of-{name}")
    before = raw.counters()["listSecrets"]

    pages = client.list_properties_of_secrets(max_page_size=25).by_page()
    seen: list[list[str]] = []
    links: list[str] = []
    for page in pages:
        seen.append([p.name for p in page])
        if pages.continuation_token:
            links.append(pages.continuation_token)

    assert [len(names) for names in seen] == [25, 25, 10]
    assert [n for names in seen for n in names] == _names(60)
    assert len(links) == 2
    for link in links:
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == emulator.url
        assert parts.path == "/secrets"
        query = parse_qs(parts.query)
        assert query["maxresults"] == ["25"] and query["$skiptoken"] and query["api-version"]
    assert raw.counters()["listSecrets"] - before == 3


def test_default_page_size_is_25(client: SecretClient, raw: RawVault) -> None:
    for name in _names(26):
        client.set_secret(name, "x")

    first = raw.call("GET", "/secrets").json()

    assert len(first["value"]) == 25
    assert first["nextLink"].startswith(raw.url + "/secrets?")
    last = raw.fetch("GET", first["nextLink"], headers={"Authorization": "Bearer t"}).json()
    assert [item["id"].rsplit("/", 1)[1] for item in last["value"]] == ["app-025"]
    assert last["nextLink"] is None


def test_list_items_carry_metadata_but_never_values(client: SecretClient, raw: RawVault) -> None:
    client.set_secret("listed", "do-not-show", content_type="text/plain", tags={"k": "v"})

    item = raw.call("GET", "/secrets").json()["value"][0]

    assert "value" not in item
    assert item["id"] == f"{raw.url}/secrets/listed"
    assert item["contentType"] == "text/plain"
    assert item["tags"] == {"k": "v"}
    assert item["attributes"]["recoveryLevel"] == "Recoverable+Purgeable"


@pytest.mark.parametrize("maxresults", ["0", "26", "-1", "abc"])
def test_invalid_maxresults_is_bad_parameter(raw: RawVault, maxresults: str) -> None:
    response = raw.call("GET", "/secrets", params={"maxresults": maxresults})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadParameter"
    assert "maxresults" in response.json()["error"]["message"]


def test_garbage_skiptoken_is_bad_parameter(raw: RawVault) -> None:
    response = raw.call("GET", "/secrets", params={"$skiptoken": "not-a-token!"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadParameter"


def test_versions_page_in_creation_order(client: SecretClient) -> None:
    written = [client.set_secret("busy", str(i)).properties.version for i in range(30)]

    pages = client.list_properties_of_secret_versions("busy", max_page_size=7).by_page()
    sizes, versions = [], []
    for page in pages:
        batch = [p.version for p in page]
        sizes.append(len(batch))
        versions.extend(batch)

    assert sizes == [7, 7, 7, 7, 2]
    assert versions == written


def test_deleted_secrets_page_too(client: SecretClient) -> None:
    for name in _names(12, "gone"):
        client.set_secret(name, "x")
        client.begin_delete_secret(name).wait()

    pages = client.list_deleted_secrets(max_page_size=5).by_page()
    sizes = [len(list(page)) for page in pages]

    assert sizes == [5, 5, 2]
    assert [d.name for d in client.list_deleted_secrets()] == _names(12, "gone")


def test_deleted_secrets_are_not_listed_as_secrets(client: SecretClient) -> None:
    client.set_secret("stays", "x")
    client.set_secret("goes", "x")
    client.begin_delete_secret("goes").wait()

    assert [p.name for p in client.list_properties_of_secrets()] == ["stays"]
