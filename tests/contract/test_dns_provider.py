"""The DNS-provider port: the fake and certsync's Azure DNS provider (azure-mgmt-dns against the
ARM emulator) add and remove TXT values one at a time, and refuse names no zone covers."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.dns.models import Zone
from azure.mgmt.resource.resources import ResourceManagementClient

from devtools.arm_emulator import EmulatorHandle, start_emulator
from devtools.arm_emulator.keyvault import AppServicePrincipalCredential
from shared.dns.azure_dns import AzureDnsProvider, ZoneScope
from shared.dns.base import DnsProvider
from shared.errors import BadRequest
from tests.fakes.dns import FakeDns

SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
ZONES = ("example.com", "sub.example.com")


@dataclass
class DnsSide:
    provider: DnsProvider
    txt: Callable[[str], list[str]]  # what the zone holds at a name, sorted


@pytest.fixture(scope="session")
def arm() -> Iterator[EmulatorHandle]:
    if os.environ.get("CERTSYNC_FAST_RING"):
        pytest.fail("the fast ring (make test-unit) starts no emulator: mark this test `emulators`")
    with start_emulator() as handle:
        yield handle


def _real_side(arm: EmulatorHandle, group: str) -> Iterator[DnsSide]:
    options = {"base_url": arm.url, "connection_verify": str(arm.cert_path)}
    credential = AppServicePrincipalCredential()
    with ResourceManagementClient(credential, SUBSCRIPTION, **options) as groups:  # type: ignore[arg-type]
        groups.resource_groups.create_or_update(group, {"location": "westeurope"})
    client = DnsManagementClient(credential, SUBSCRIPTION, retry_total=0, **options)  # type: ignore[arg-type]
    for zone in ZONES:
        client.zones.create_or_update(group, zone, Zone(location="global"))

    def txt(fqdn: str) -> list[str]:
        zone = "sub.example.com" if fqdn.rstrip(".").endswith("sub.example.com") else "example.com"
        record = fqdn.rstrip(".")[: -len(zone) - 1] or "@"
        try:
            found = client.record_sets.get(group, zone, record, "TXT")
        except ResourceNotFoundError:
            return []
        return sorted("".join(r.value or []) for r in found.txt_records or [])

    yield DnsSide(AzureDnsProvider([ZoneScope(SUBSCRIPTION, group)], lambda _: client), txt)
    client.close()


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.emulators)])
def dns(request: pytest.FixtureRequest) -> Iterator[DnsSide]:
    if request.param == "fake":
        fake = FakeDns(ZONES)
        yield DnsSide(fake, lambda fqdn: sorted(fake.txt(fqdn)))
        return
    yield from _real_side(request.getfixturevalue("arm"), f"dns-{os.urandom(3).hex()}")


def test_values_are_added_and_removed_one_at_a_time(dns: DnsSide) -> None:
    name = "_acme-challenge.shop.example.com"
    dns.provider.set_txt(name, "token-1")
    dns.provider.set_txt(name + ".", "token-2")  # the same name, absolute
    dns.provider.set_txt(name, "token-1")  # already there: once
    assert dns.txt(name) == ["token-1", "token-2"]
    dns.provider.clear_txt(name, "token-1")
    assert dns.txt(name) == ["token-2"]
    dns.provider.clear_txt(name, "token-2")
    dns.provider.clear_txt(name, "token-2")  # idempotent
    assert dns.txt(name) == []


def test_the_longest_zone_holds_the_name(dns: DnsSide) -> None:
    dns.provider.set_txt("_acme-challenge.www.sub.example.com", "in-sub")
    dns.provider.set_txt("_acme-challenge.example.com", "at-apex-child")
    assert dns.txt("_acme-challenge.www.sub.example.com") == ["in-sub"]
    assert dns.txt("_acme-challenge.example.com") == ["at-apex-child"]


def test_a_name_no_zone_covers_is_refused(dns: DnsSide) -> None:
    for name in ("_acme-challenge.example.org", "_acme-challenge.notexample.com"):
        with pytest.raises(BadRequest) as caught:
            dns.provider.set_txt(name, "token")
        assert caught.value.code == "DnsZoneNotFound"
