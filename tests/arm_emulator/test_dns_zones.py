"""Microsoft.Network/dnsZones with TXT record sets, driven by azure-mgmt-dns (ETags, conditions, paging)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.dns.models import RecordSet, TxtRecord, Zone

from devtools.arm_emulator import EmulatorHandle
from shared.dns.azure_dns import AzureDnsProvider, ZoneScope

from .support import SUBSCRIPTION, RawArm


def _txt(*values: str, ttl: int = 60) -> RecordSet:
    return RecordSet(ttl=ttl, txt_records=[TxtRecord(value=[v]) for v in values])


def _error(call) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as caught:
        call()
    return caught.value


def test_zone_comes_with_apex_soa_and_ns(dns: DnsManagementClient) -> None:
    zone = dns.zones.create_or_update("dns", "example.com", Zone(location="global"))

    assert zone.name == "example.com" and zone.etag
    assert zone.number_of_record_sets == 2 and zone.name_servers
    assert sorted(r.type for r in dns.record_sets.list_by_dns_zone("dns", "example.com")) == [
        "Microsoft.Network/dnsZones/NS",
        "Microsoft.Network/dnsZones/SOA",
    ]
    assert [z.name for z in dns.zones.list_by_resource_group("dns")] == ["example.com"]
    assert [z.name for z in dns.zones.list()] == ["example.com"]


def test_txt_record_set_with_several_values(dns: DnsManagementClient) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))

    created = dns.record_sets.create_or_update("dns", "example.com", "_acme-challenge", "TXT", _txt("one", "two"))
    fetched = dns.record_sets.get("dns", "example.com", "_acme-challenge", "TXT")

    assert created.fqdn == "_acme-challenge.example.com."
    assert [r.value for r in fetched.txt_records or []] == [["one"], ["two"]]
    assert fetched.ttl == 60 and fetched.etag == created.etag


def test_every_write_changes_the_etag_and_if_match_guards_it(dns: DnsManagementClient) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    first = dns.record_sets.create_or_update("dns", "example.com", "x", "TXT", _txt("a"))
    second = dns.record_sets.create_or_update("dns", "example.com", "x", "TXT", _txt("a", "b"), if_match=first.etag)

    stale = _error(
        lambda: dns.record_sets.create_or_update("dns", "example.com", "x", "TXT", _txt("c"), if_match=first.etag)
    )
    stale_delete = _error(lambda: dns.record_sets.delete("dns", "example.com", "x", "TXT", if_match=first.etag))

    assert second.etag != first.etag
    assert stale.status_code == 412 and stale.error is not None and stale.error.code == "PreconditionFailed"
    assert stale_delete.status_code == 412
    assert [r.value for r in dns.record_sets.get("dns", "example.com", "x", "TXT").txt_records or []] == [["a"], ["b"]]


def test_if_none_match_star_creates_only(dns: DnsManagementClient) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    dns.record_sets.create_or_update("dns", "example.com", "x", "TXT", _txt("a"), if_none_match="*")

    again = _error(
        lambda: dns.record_sets.create_or_update("dns", "example.com", "x", "TXT", _txt("b"), if_none_match="*")
    )
    missing = _error(
        lambda: dns.record_sets.create_or_update("dns", "example.com", "y", "TXT", _txt("b"), if_match="some-etag")
    )

    assert again.status_code == 412 and missing.status_code == 412


def test_patch_changes_only_what_it_names(dns: DnsManagementClient) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    dns.record_sets.create_or_update("dns", "example.com", "x", "TXT", _txt("a", ttl=300))

    patched = dns.record_sets.update("dns", "example.com", "x", "TXT", RecordSet(metadata={"owner": "certsync"}))

    assert patched.ttl == 300 and patched.metadata == {"owner": "certsync"}
    assert [r.value for r in patched.txt_records or []] == [["a"]]


def test_delete_and_not_found(dns: DnsManagementClient) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    created = dns.record_sets.create_or_update("dns", "example.com", "x", "TXT", _txt("a"))

    dns.record_sets.delete("dns", "example.com", "x", "TXT", if_match=created.etag)
    dns.record_sets.delete("dns", "example.com", "x", "TXT")  # already gone: 204

    with pytest.raises(ResourceNotFoundError):
        dns.record_sets.get("dns", "example.com", "x", "TXT")
    with pytest.raises(ResourceNotFoundError):
        dns.record_sets.get("dns", "missing.example", "x", "TXT")


def test_list_pages_with_top_and_by_type(dns: DnsManagementClient, raw: RawArm) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    for index in range(5):
        dns.record_sets.create_or_update("dns", "example.com", f"r{index}", "TXT", _txt(str(index)))
    path = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/dns/providers/Microsoft.Network/dnsZones/example.com/TXT"

    txt_names = [r.name for r in dns.record_sets.list_by_type("dns", "example.com", "TXT", top=2)]
    every = list(dns.record_sets.list_all_by_dns_zone("dns", "example.com"))
    first_page = raw.call("GET", path, api_version="2018-05-01", params={"$top": "3"}).json()

    assert txt_names == ["r0", "r1", "r2", "r3", "r4"]
    assert len(every) == 7
    assert len(first_page["value"]) == 3 and "$top=3" in first_page["nextLink"]


@pytest.mark.parametrize(
    ("record", "status"),
    [
        ({"properties": {"TTL": 60, "TXTRecords": [{"value": ["x" * 256]}]}}, 400),
        ({"properties": {"TTL": -1, "TXTRecords": [{"value": ["x"]}]}}, 400),
        ({"properties": {"TXTRecords": [{"value": []}]}}, 400),
        ({"properties": {"TXTRecords": "x"}}, 400),
    ],
)
def test_bad_txt_record_sets(dns: DnsManagementClient, raw: RawArm, record: dict, status: int) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    path = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/dns/providers/Microsoft.Network/dnsZones/example.com/TXT/x"

    response = raw.call("PUT", path, api_version="2018-05-01", json=record)

    assert response.status_code == status and response.json()["error"]["code"] == "InvalidRequestContent"


def test_other_record_types_and_apex_records(dns: DnsManagementClient, raw: RawArm) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    base = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/dns/providers/Microsoft.Network/dnsZones/example.com"

    a_record = raw.call("PUT", f"{base}/A/www", api_version="2018-05-01", json={"properties": {"TTL": 60}})
    soa = raw.call("DELETE", f"{base}/SOA/@", api_version="2018-05-01")

    assert a_record.status_code == 501 and a_record.json()["error"]["code"] == "NotImplemented"
    assert soa.status_code == 400


def test_deleting_a_zone_removes_its_record_sets(dns: DnsManagementClient) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    dns.record_sets.create_or_update("dns", "example.com", "x", "TXT", _txt("a"))

    dns.zones.begin_delete("dns", "example.com").result()
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))

    assert len(list(dns.record_sets.list_by_type("dns", "example.com", "TXT"))) == 0


def test_certsyncs_dns_provider_adds_and_removes_challenge_values(
    dns: DnsManagementClient, arm: EmulatorHandle
) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    provider = AzureDnsProvider([ZoneScope(SUBSCRIPTION, "dns")], lambda _: dns)

    provider.set_txt("_acme-challenge.shop.example.com", "token-1")
    provider.set_txt("_acme-challenge.shop.example.com", "token-2")
    both = dns.record_sets.get("dns", "example.com", "_acme-challenge.shop", "TXT")
    provider.clear_txt("_acme-challenge.shop.example.com", "token-1")
    one = dns.record_sets.get("dns", "example.com", "_acme-challenge.shop", "TXT")
    provider.clear_txt("_acme-challenge.shop.example.com", "token-2")

    assert sorted(r.value[0] for r in both.txt_records or [] if r.value) == ["token-1", "token-2"]
    assert [r.value for r in one.txt_records or []] == [["token-2"]]
    with pytest.raises(ResourceNotFoundError):
        dns.record_sets.get("dns", "example.com", "_acme-challenge.shop", "TXT")
