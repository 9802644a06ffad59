"""Microsoft.Network/dnsZones with record sets of every public type, driven by azure-mgmt-dns (ETags, conditions)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.dns.models import (
    AaaaRecord,
    ARecord,
    CaaRecord,
    CnameRecord,
    MxRecord,
    NsRecord,
    PtrRecord,
    RecordSet,
    SrvRecord,
    TxtRecord,
    Zone,
)

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


def test_apex_soa_and_ns_are_read_only(dns: DnsManagementClient, raw: RawArm) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    base = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/dns/providers/Microsoft.Network/dnsZones/example.com"

    soa = raw.call("DELETE", f"{base}/SOA/@", api_version="2018-05-01")
    apex_ns = raw.call("PUT", f"{base}/NS/@", api_version="2018-05-01", json={"properties": {"TTL": 60}})
    unknown = raw.call("PUT", f"{base}/HINFO/x", api_version="2018-05-01", json={"properties": {"TTL": 60}})

    assert soa.status_code == 400 and apex_ns.status_code == 400 and unknown.status_code == 400
    assert len(dns.record_sets.get("dns", "example.com", "@", "NS").ns_records or []) == 4


# (record type, the record set azure-mgmt-dns sends, what the SDK reads back from it)
ROUND_TRIPS = [
    ("A", RecordSet(ttl=60, a_records=[ARecord(ipv4_address="192.0.2.1")]), lambda r: r.a_records[0].ipv4_address),
    (
        "AAAA",
        RecordSet(ttl=60, aaaa_records=[AaaaRecord(ipv6_address="2001:db8::1")]),
        lambda r: r.aaaa_records[0].ipv6_address,
    ),
    ("CNAME", RecordSet(ttl=60, cname_record=CnameRecord(cname="target.example.net")), lambda r: r.cname_record.cname),
    (
        "MX",
        RecordSet(ttl=60, mx_records=[MxRecord(preference=10, exchange="mail.example.com")]),
        lambda r: (r.mx_records[0].preference, r.mx_records[0].exchange),
    ),
    ("NS", RecordSet(ttl=60, ns_records=[NsRecord(nsdname="ns1.example.net")]), lambda r: r.ns_records[0].nsdname),
    (
        "PTR",
        RecordSet(ttl=60, ptr_records=[PtrRecord(ptrdname="host.example.com")]),
        lambda r: r.ptr_records[0].ptrdname,
    ),
    (
        "SRV",
        RecordSet(ttl=60, srv_records=[SrvRecord(priority=1, weight=2, port=443, target="svc.example.com")]),
        lambda r: (r.srv_records[0].priority, r.srv_records[0].weight, r.srv_records[0].port, r.srv_records[0].target),
    ),
    (
        "CAA",
        RecordSet(ttl=60, caa_records=[CaaRecord(flags=0, tag="issue", value="letsencrypt.org")]),
        lambda r: (r.caa_records[0].flags, r.caa_records[0].tag, r.caa_records[0].value),
    ),
    ("TXT", _txt("v"), lambda r: r.txt_records[0].value),
]
EXPECTED = {
    "A": "192.0.2.1",
    "AAAA": "2001:db8::1",
    "CNAME": "target.example.net",
    "MX": (10, "mail.example.com"),
    "NS": "ns1.example.net",
    "PTR": "host.example.com",
    "SRV": (1, 2, 443, "svc.example.com"),
    "CAA": (0, "issue", "letsencrypt.org"),
    "TXT": ["v"],
}


@pytest.mark.parametrize(("record_type", "record_set", "read"), ROUND_TRIPS, ids=[t[0] for t in ROUND_TRIPS])
def test_each_record_type_round_trips(dns: DnsManagementClient, record_type: str, record_set: RecordSet, read) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))

    created = dns.record_sets.create_or_update("dns", "example.com", "sub", record_type, record_set, if_none_match="*")
    fetched = dns.record_sets.get("dns", "example.com", "sub", record_type)
    by_type = list(dns.record_sets.list_by_type("dns", "example.com", record_type))
    in_zone = {(r.type, r.name) for r in dns.record_sets.list_by_dns_zone("dns", "example.com")}
    again = _error(
        lambda: dns.record_sets.create_or_update(
            "dns", "example.com", "sub", record_type, record_set, if_none_match="*"
        )
    )
    dns.record_sets.delete("dns", "example.com", "sub", record_type, if_match=fetched.etag)

    assert created.type == f"Microsoft.Network/dnsZones/{record_type}" and created.fqdn == "sub.example.com."
    assert read(fetched) == EXPECTED[record_type] and fetched.ttl == 60 and fetched.etag == created.etag
    assert [r.name for r in by_type if r.name == "sub"] == ["sub"] and all(read(r) for r in by_type if r.name == "sub")
    assert (f"Microsoft.Network/dnsZones/{record_type}", "sub") in in_zone
    assert again.status_code == 412 and again.error is not None and again.error.code == "PreconditionFailed"
    with pytest.raises(ResourceNotFoundError):
        dns.record_sets.get("dns", "example.com", "sub", record_type)


def test_patch_and_stale_if_match_on_an_a_record_set(dns: DnsManagementClient) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    first = dns.record_sets.create_or_update(
        "dns", "example.com", "www", "A", RecordSet(ttl=300, a_records=[ARecord(ipv4_address="192.0.2.1")])
    )
    patched = dns.record_sets.update("dns", "example.com", "www", "A", RecordSet(ttl=30), if_match=first.etag)
    stale = _error(
        lambda: dns.record_sets.update("dns", "example.com", "www", "A", RecordSet(ttl=5), if_match=first.etag)
    )

    assert patched.ttl == 30 and [r.ipv4_address for r in patched.a_records or []] == ["192.0.2.1"]
    assert stale.status_code == 412


@pytest.mark.parametrize(
    ("record_type", "name", "properties"),
    [
        ("CNAME", "www", {"CNAMERecord": [{"cname": "a.example.net"}, {"cname": "b.example.net"}]}),
        ("CNAME", "@", {"CNAMERecord": {"cname": "a.example.net"}}),
        ("A", "www", {"ARecords": [{"ipv4Address": "2001:db8::1"}]}),
        ("A", "www", {"ARecords": [{"ipv4Address": "192.0.2.300"}]}),
        ("AAAA", "www", {"AAAARecords": [{"ipv6Address": "192.0.2.1"}]}),
        ("A", "www", {"TXTRecords": [{"value": ["x"]}]}),
        ("TXT", "www", {"ARecords": [{"ipv4Address": "192.0.2.1"}]}),
        ("MX", "@", {"MXRecords": [{"preference": 70000, "exchange": "mail.example.com"}]}),
        ("MX", "@", {"MXRecords": [{"preference": 10, "exchange": "not a host"}]}),
        ("SRV", "_sip._tcp", {"SRVRecords": [{"priority": 1, "weight": 1, "target": "sip.example.com"}]}),
        ("CAA", "@", {"caaRecords": [{"flags": 256, "tag": "issue", "value": "ca.example"}]}),
        ("PTR", "1", {"PTRRecords": "host.example.com"}),
    ],
)
def test_bad_record_sets_are_400(raw: RawArm, dns: DnsManagementClient, record_type, name, properties) -> None:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    base = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/dns/providers/Microsoft.Network/dnsZones/example.com"

    response = raw.call(
        "PUT", f"{base}/{record_type}/{name}", api_version="2018-05-01", json={"properties": properties}
    )

    assert response.status_code == 400 and response.json()["error"]["code"] in ("BadRequest", "InvalidRequestContent")
    with pytest.raises(ResourceNotFoundError):
        dns.record_sets.get("dns", "example.com", name, record_type)


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
