"""DNS_PROVIDER=azure end to end: certsync writes DNS-01 TXT values through ARM (the emulator, driven
by azure-mgmt-dns), Pebble reads them over DNS from the emulator's DNS server and issues.

Zones: a parent and its child zone in one subscription's resource group, and a zone in a second
subscription's other resource group; each test uses fresh zone names (the emulator is per session).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.dns.models import Zone
from azure.mgmt.resource.resources import ResourceManagementClient
from dns import message as dns_message
from dns import query as dns_query

from shared import pki
from shared.credentials import EmulatorCredential
from shared.dns.azure_dns import AzureDnsProvider, ZoneScope, dns_client_factory
from shared.errors import IssuerError
from shared.issuers.acme import AcmeIssuer
from shared.issuers.base import IssueRequest
from shared.lifecycle import start_renewal
from shared.model import OperationKind, OperationStatus
from shared.secret_refs import certificate_at
from tests.integration.helpers import drain, issued

SUB_A = "22222222-2222-4222-8222-222222222222"
SUB_B = "33333333-3333-4333-8333-333333333333"
GROUP_A, GROUP_B = "dns-zones-a", "dns-zones-b"


@dataclass
class AzureZones:
    """Three zones: `parent` and `child` (SUB_A/GROUP_A), `other` (SUB_B/GROUP_B)."""

    parent: str
    child: str
    other: str
    clients: dict[str, DnsManagementClient]
    arm_url: str
    arm_cert: str
    dns_port: int

    def where(self, zone: str) -> tuple[str, str]:
        return (SUB_B, GROUP_B) if zone == self.other else (SUB_A, GROUP_A)

    def txt_sets(self) -> dict[str, list[str]]:
        """Every TXT record set left in the three zones, by FQDN."""
        found: dict[str, list[str]] = {}
        for zone in (self.parent, self.child, self.other):
            subscription, group = self.where(zone)
            for record_set in self.clients[subscription].record_sets.list_by_type(group, zone, "TXT"):
                found[record_set.fqdn] = ["".join(r.value or []) for r in record_set.txt_records or []]
        return found

    def provider(self) -> AzureDnsProvider:
        clients = dns_client_factory(self.arm_url, EmulatorCredential(), self.arm_cert)
        return AzureDnsProvider([ZoneScope(SUB_A, GROUP_A), ZoneScope(SUB_B)], clients)

    def settings(self) -> dict[str, str]:
        return {
            "DNS_PROVIDER": "azure",
            "ARM_ENDPOINT": self.arm_url,
            "ARM_EMULATOR_CERT": self.arm_cert,
            "AZURE_DNS_ZONE_SCOPES": f"{SUB_A}/{GROUP_A},{SUB_B}",
        }

    def dns_txt(self, fqdn: str) -> list[str]:
        """What a resolver (Pebble) sees now at `fqdn`, over the emulator's DNS port."""
        answer = dns_query.udp(dns_message.make_query(fqdn, "TXT"), "127.0.0.1", port=self.dns_port, timeout=3)
        return sorted(b"".join(r.strings).decode() for rrset in answer.answer for r in rrset)


@pytest.fixture
def zones(arm_stack: Any, unique: str) -> Iterator[AzureZones]:
    credential, options = EmulatorCredential(), {"base_url": arm_stack.url, "connection_verify": str(arm_stack.cert)}
    clients = {sub: DnsManagementClient(credential, sub, retry_total=0, **options) for sub in (SUB_A, SUB_B)}
    for sub, group in ((SUB_A, GROUP_A), (SUB_B, GROUP_B)):
        with ResourceManagementClient(credential, sub, **options) as groups:
            groups.resource_groups.create_or_update(group, {"location": "westeurope"})
    world = AzureZones(
        f"az{unique}.example.com", f"shop.az{unique}.example.com", f"az{unique}.example.org", clients,
        arm_stack.url, str(arm_stack.cert), arm_stack.dns_port,
    )  # fmt: skip
    for zone in (world.parent, world.child, world.other):
        subscription, group = world.where(zone)
        clients[subscription].zones.create_or_update(group, zone, Zone(location="global"))
    yield world
    for client in clients.values():
        client.close()


@pytest.fixture
def azure_issuer(pebble_azure: Any, vault: Any) -> Callable[..., AcmeIssuer]:
    def make(dns: Any) -> AcmeIssuer:
        return AcmeIssuer(
            pebble_azure.directory_url, vault=vault, dns=dns, ca_bundle=pebble_azure.ca_bundle,
            order_timeout=60.0, poll_interval=0.1, network_timeout=10,
        )  # fmt: skip

    return make


def order(issuer: AcmeIssuer, *names: str) -> x509.Certificate:
    key = pki.generate_private_key(pki.KeyType.EC256)
    return issuer.issue(IssueRequest.for_key(hostnames=names, private_key=key)).certificate


class Watching:
    """Passes through to a DnsProvider; before the first clear, notes what DNS answers for each name."""

    def __init__(self, inner: AzureDnsProvider, zones: AzureZones, skip: str = "") -> None:
        self.inner, self.zones, self.skip = inner, zones, skip
        self.seen_over_dns: dict[str, list[str]] = {}
        self.set_calls: list[str] = []

    def set_txt(self, fqdn: str, value: str) -> None:
        self.set_calls.append(fqdn)
        if self.skip and self.skip in fqdn:
            return  # this name's value never reaches DNS: its validation fails
        self.inner.set_txt(fqdn, value)

    def clear_txt(self, fqdn: str, value: str) -> None:
        if not self.seen_over_dns:
            self.seen_over_dns = {name: self.zones.dns_txt(name) for name in set(self.set_calls)}
        self.inner.clear_txt(fqdn, value)


def test_issue_renew_and_rekey_with_dns_provider_azure(make_ctx, pebble_azure, zones, unique):
    """The app's composition: DNS_PROVIDER=azure, ARM_ENDPOINT at the emulator, zones in two subscriptions."""
    ctx = make_ctx(
        ACME_DIRECTORY_URL=pebble_azure.directory_url,
        ACME_CA_BUNDLE=str(pebble_azure.ca_bundle),
        ACME_CONTACT="certsync-tests@example.com",
        **zones.settings(),
    )
    hosts = [zones.parent, f"*.{zones.parent}", f"www.{zones.child}", f"api.{zones.other}"]
    first = issued(ctx, f"az-{unique}", hosts, issuer="acme", key_type=pki.KeyType.EC256)
    held = certificate_at(ctx.vault, first.secret_name, first.secret_version).bundle
    assert sorted(pki.dns_names(held.certificate)) == sorted(hosts)
    assert isinstance(ctx.issuer("acme").dns, AzureDnsProvider)  # no double: the provider the settings describe

    renewed = start_renewal(ctx, first.name, OperationKind.RENEW, {})
    drain(ctx)
    rekeyed = start_renewal(ctx, first.name, OperationKind.REKEY, {"keyType": "RSA2048"})
    drain(ctx)

    assert ctx.operations.get(renewed.id).status is OperationStatus.SUCCEEDED, ctx.operations.get(renewed.id)
    assert ctx.operations.get(rekeyed.id).status is OperationStatus.SUCCEEDED, ctx.operations.get(rekeyed.id)
    third = ctx.certificates.get(first.name)
    assert third.thumbprint != first.thumbprint
    key = certificate_at(ctx.vault, third.secret_name, third.secret_version).bundle.private_key
    assert pki.key_type_of(key) is pki.KeyType.RSA2048
    assert zones.txt_sets() == {}  # every challenge value withdrawn after each order


def test_wildcard_and_apex_share_one_record_set_with_two_values(azure_issuer, zones):
    watching = Watching(zones.provider(), zones)

    cert = order(azure_issuer(watching), zones.parent, f"*.{zones.parent}")

    name = f"_acme-challenge.{zones.parent}."
    assert sorted(pki.dns_names(cert)) == sorted([zones.parent, f"*.{zones.parent}"])
    assert len(watching.seen_over_dns[name]) == 2  # both values at once, over DNS, from one record set
    assert zones.txt_sets() == {}


def test_the_child_zone_wins_over_its_parent(azure_issuer, zones):
    watching = Watching(zones.provider(), zones)
    child = zones.clients[SUB_A].record_sets

    order(azure_issuer(watching), f"x.{zones.child}", f"y.{zones.parent}")

    assert watching.seen_over_dns[f"_acme-challenge.x.{zones.child}."]  # Pebble's view: the child zone answered
    assert list(child.list_by_type(GROUP_A, zones.parent, "TXT")) == []
    assert zones.txt_sets() == {}


def test_txt_values_are_removed_when_validation_fails(azure_issuer, zones):
    watching = Watching(zones.provider(), zones, skip=f".bad.{zones.other}")

    with pytest.raises(IssuerError) as failed:
        order(azure_issuer(watching), f"good.{zones.parent}", f"bad.{zones.other}", f"also.{zones.other}")

    assert failed.value.code == "OrderInvalid"
    assert watching.seen_over_dns[f"_acme-challenge.good.{zones.parent}."]  # published, then...
    assert zones.txt_sets() == {}  # ...withdrawn, although the order failed


def test_concurrent_orders_for_one_name_keep_each_others_values(azure_issuer, zones):
    """Four orders (four instances: each its own provider) write one record set at the same instant."""
    orders = 4
    before_write, after_write = threading.Barrier(orders, timeout=30), threading.Barrier(orders, timeout=30)

    class AllAtOnce(AzureDnsProvider):
        def set_txt(self, fqdn: str, value: str) -> None:
            before_write.wait()  # everyone reads the same (missing) record set, then writes
            super().set_txt(fqdn, value)
            after_write.wait()  # nobody validates before every value was written

    def provider() -> AllAtOnce:
        clients = dns_client_factory(zones.arm_url, EmulatorCredential(), zones.arm_cert)
        return AllAtOnce([ZoneScope(SUB_A, GROUP_A)], clients)

    results: list[Any] = [None] * orders

    def run(i: int) -> None:
        try:
            results[i] = order(azure_issuer(provider()), f"same.{zones.parent}")
        except Exception as err:  # collected and asserted below
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(orders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert all(isinstance(r, x509.Certificate) for r in results), results
    assert zones.txt_sets() == {}
