"""The emulator's DNS server answers, over UDP and TCP, what azure-mgmt-dns wrote (read by dnspython)."""

from __future__ import annotations

import socket
import struct

import pytest
from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.dns.models import AaaaRecord, ARecord, CnameRecord, MxRecord, RecordSet, TxtRecord, Zone
from dns import flags as dns_flags
from dns import message as dns_message
from dns import query as dns_query
from dns import rcode as dns_rcode
from dns import rdatatype

from devtools.arm_emulator import EmulatorHandle


def ask(arm: EmulatorHandle, name: str, rtype: str, *, tcp: bool = False, edns: bool = False) -> dns_message.Message:
    query = dns_message.make_query(name, rtype, use_edns=0 if edns else False)
    send = dns_query.tcp if tcp else dns_query.udp
    return send(query, "127.0.0.1", port=arm.dns_port, timeout=3)


def txt_values(answer: dns_message.Message) -> list[str]:
    return sorted(b"".join(r.strings).decode() for rrset in answer.answer for r in rrset)


@pytest.fixture
def zones(dns: DnsManagementClient) -> DnsManagementClient:
    dns.zones.create_or_update("dns", "example.com", Zone(location="global"))
    dns.zones.create_or_update("dns", "shop.example.com", Zone(location="global"))
    return dns


def _txt(*values: str | list[str]) -> RecordSet:
    return RecordSet(ttl=60, txt_records=[TxtRecord(value=v if isinstance(v, list) else [v]) for v in values])


@pytest.mark.parametrize("tcp", [False, True])
def test_txt_values_written_through_arm_are_answered(zones: DnsManagementClient, arm: EmulatorHandle, tcp) -> None:
    zones.record_sets.create_or_update("dns", "example.com", "_acme-challenge.www", "TXT", _txt("one", "two"))

    answer = ask(arm, "_acme-challenge.WWW.example.com.", "TXT", tcp=tcp)

    assert answer.rcode() == dns_rcode.NOERROR and answer.flags & dns_flags.AA
    assert txt_values(answer) == ["one", "two"]
    assert answer.answer[0].ttl == 60
    assert str(answer.answer[0].name) == "_acme-challenge.WWW.example.com."  # the question's case echoed


def test_a_value_split_in_several_strings_is_one_record(zones: DnsManagementClient, arm: EmulatorHandle) -> None:
    zones.record_sets.create_or_update("dns", "example.com", "long", "TXT", _txt(["a" * 255, "b" * 10]))

    assert txt_values(ask(arm, "long.example.com.", "TXT")) == ["a" * 255 + "b" * 10]


def test_the_longest_zone_answers(zones: DnsManagementClient, arm: EmulatorHandle) -> None:
    zones.record_sets.create_or_update("dns", "example.com", "_acme-challenge.shop", "TXT", _txt("in-parent"))
    zones.record_sets.create_or_update("dns", "shop.example.com", "_acme-challenge", "TXT", _txt("in-child"))

    assert txt_values(ask(arm, "_acme-challenge.shop.example.com.", "TXT")) == ["in-child"]


def test_nxdomain_and_nodata_carry_the_zones_soa(zones: DnsManagementClient, arm: EmulatorHandle) -> None:
    zones.record_sets.create_or_update("dns", "example.com", "_acme-challenge.a.b", "TXT", _txt("x"))

    missing = ask(arm, "nothing.example.com.", "TXT")
    no_data = ask(arm, "_acme-challenge.a.b.example.com.", "A")
    empty_non_terminal = ask(arm, "a.b.example.com.", "TXT")

    assert missing.rcode() == dns_rcode.NXDOMAIN and not missing.answer
    assert no_data.rcode() == dns_rcode.NOERROR and not no_data.answer
    assert empty_non_terminal.rcode() == dns_rcode.NOERROR and not empty_non_terminal.answer
    for answer in (missing, no_data, empty_non_terminal):
        (soa,) = answer.authority
        assert soa.rdtype == rdatatype.SOA and str(soa.name) == "example.com."
        assert soa.ttl == 300  # RFC 2308: min(SOA TTL 3600, minimum 300)


def test_apex_soa_and_ns(zones: DnsManagementClient, arm: EmulatorHandle) -> None:
    soa = ask(arm, "example.com.", "SOA")
    ns = ask(arm, "shop.example.com.", "NS")

    assert soa.answer[0][0].mname.to_text() == "ns1-01.azure-dns.com."
    assert soa.answer[0][0].rname.to_text() == "azuredns-hostmaster.microsoft.com."
    assert len(ns.answer[0]) == 4


def test_names_outside_every_zone_are_refused(zones: DnsManagementClient, arm: EmulatorHandle) -> None:
    assert ask(arm, "example.org.", "TXT").rcode() == dns_rcode.REFUSED
    assert ask(arm, "badexample.com.", "TXT").rcode() == dns_rcode.REFUSED


def test_a_large_answer_is_truncated_over_udp_and_whole_over_tcp(
    zones: DnsManagementClient, arm: EmulatorHandle
) -> None:
    values = [f"{i:02d}-" + "v" * 60 for i in range(30)]  # ~2 kB: beyond 512 and beyond EDNS 1232
    zones.record_sets.create_or_update("dns", "example.com", "big", "TXT", _txt(*values))

    udp = ask(arm, "big.example.com.", "TXT")
    udp_edns = ask(arm, "big.example.com.", "TXT", edns=True)
    tcp = ask(arm, "big.example.com.", "TXT", tcp=True)

    assert udp.flags & dns_flags.TC and not udp.answer
    assert udp_edns.flags & dns_flags.TC and udp_edns.edns == 0
    assert not tcp.flags & dns_flags.TC and txt_values(tcp) == sorted(values)


def test_edns_lets_a_mid_sized_answer_through_udp(zones: DnsManagementClient, arm: EmulatorHandle) -> None:
    values = [f"{i:02d}-" + "v" * 60 for i in range(12)]  # ~900 bytes: over 512, under 1232
    zones.record_sets.create_or_update("dns", "example.com", "mid", "TXT", _txt(*values))

    plain, edns = ask(arm, "mid.example.com.", "TXT"), ask(arm, "mid.example.com.", "TXT", edns=True)

    assert plain.flags & dns_flags.TC
    assert not edns.flags & dns_flags.TC and txt_values(edns) == sorted(values)


def test_a_deleted_record_set_is_gone_from_dns(zones: DnsManagementClient, arm: EmulatorHandle) -> None:
    zones.record_sets.create_or_update("dns", "example.com", "_acme-challenge", "TXT", _txt("x"))
    zones.record_sets.delete("dns", "example.com", "_acme-challenge", "TXT")

    assert ask(arm, "_acme-challenge.example.com.", "TXT").rcode() == dns_rcode.NXDOMAIN


def test_garbage_gets_formerr_or_silence(arm: EmulatorHandle) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        # a header saying one question, then a name that runs past the end
        sock.sendto(struct.pack("!6H", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x3fabc", ("127.0.0.1", arm.dns_port or 0))
        reply, _ = sock.recvfrom(512)
        sock.sendto(b"\x00", ("127.0.0.1", arm.dns_port or 0))  # too short to answer
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recvfrom(512)

    ident, flags = struct.unpack("!HH", reply[:4])
    assert ident == 0x1234 and flags & 0x8000 and flags & 0x000F == dns_rcode.FORMERR


def test_a_aaaa_and_mx_written_through_arm_are_answered(zones: DnsManagementClient, arm: EmulatorHandle) -> None:
    zones.record_sets.create_or_update(
        "dns", "example.com", "www", "A", RecordSet(ttl=120, a_records=[ARecord(ipv4_address="192.0.2.7")])
    )
    zones.record_sets.create_or_update(
        "dns", "example.com", "www", "AAAA", RecordSet(ttl=120, aaaa_records=[AaaaRecord(ipv6_address="2001:db8::7")])
    )
    zones.record_sets.create_or_update(
        "dns",
        "example.com",
        "@",
        "MX",
        RecordSet(ttl=120, mx_records=[MxRecord(preference=5, exchange="mx.example.com")]),
    )

    a, aaaa, mx = (
        ask(arm, "www.example.com.", "A"),
        ask(arm, "www.example.com.", "AAAA"),
        ask(arm, "example.com.", "MX"),
    )

    assert [r.address for r in a.answer[0]] == ["192.0.2.7"] and a.answer[0].ttl == 120
    assert [r.address for r in aaaa.answer[0]] == ["2001:db8::7"]
    assert [(r.preference, r.exchange.to_text()) for r in mx.answer[0]] == [(5, "mx.example.com.")]


def test_a_cname_answers_every_type_at_its_name(zones: DnsManagementClient, arm: EmulatorHandle) -> None:
    zones.record_sets.create_or_update(
        "dns", "example.com", "alias", "CNAME", RecordSet(ttl=60, cname_record=CnameRecord(cname="www.example.org"))
    )

    for rtype in ("CNAME", "A", "AAAA"):
        (rrset,) = ask(arm, "alias.example.com.", rtype).answer
        assert rrset.rdtype == rdatatype.CNAME and [r.target.to_text() for r in rrset] == ["www.example.org."]
