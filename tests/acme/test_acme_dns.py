"""DNS providers: Azure DNS decisions as pure functions plus thin SDK wiring; challtestsrv errors."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.dns.models import RecordSet

from shared.dns import absolute_name
from shared.dns.azure_dns import (
    AzureDnsProvider,
    ZoneScope,
    find_zone,
    relative_record_name,
    txt_chunks,
    with_txt_value,
    without_txt_value,
)
from devtools.challtestsrv_dns import ChallTestSrvProvider
from shared.errors import BadRequest, DependencyError

ZONES = ["example.com", "shop.example.com", "example.org", "ample.com"]


@pytest.mark.parametrize(
    "fqdn, expected",
    [
        ("_acme-challenge.example.com.", "example.com"),
        ("_acme-challenge.www.example.com.", "example.com"),
        ("_acme-challenge.shop.example.com.", "shop.example.com"),  # longest suffix wins
        ("_acme-challenge.a.b.shop.example.com", "shop.example.com"),
        ("_ACME-Challenge.Example.ORG.", "example.org"),
        ("example.com.", "example.com"),  # the apex itself
        ("_acme-challenge.badexample.com.", None),  # whole labels only, "ample.com" does not match either
        ("_acme-challenge.example.net.", None),
    ],
)
def test_find_zone(fqdn, expected):
    assert find_zone(fqdn, ZONES) == expected


def test_find_zone_ignores_trailing_dots_and_case_in_zone_names():
    assert find_zone("_acme-challenge.x.Example.com.", ["EXAMPLE.COM."]) == "example.com"


@pytest.mark.parametrize(
    "fqdn, zone, expected",
    [
        ("_acme-challenge.example.com.", "example.com", "_acme-challenge"),
        ("_acme-challenge.www.example.com.", "example.com", "_acme-challenge.www"),
        ("_acme-challenge.shop.example.com", "shop.example.com.", "_acme-challenge"),
        ("example.com.", "example.com", "@"),
    ],
)
def test_relative_record_name(fqdn, zone, expected):
    assert relative_record_name(fqdn, zone) == expected


def test_relative_record_name_refuses_a_name_outside_the_zone():
    with pytest.raises(ValueError):
        relative_record_name("_acme-challenge.example.net.", "example.com")


def test_txt_value_merge_keeps_other_values():
    values = with_txt_value(("v=spf1 -all",), "token-a")
    assert values == ("v=spf1 -all", "token-a")
    assert with_txt_value(values, "token-a") == values  # idempotent
    values = with_txt_value(values, "token-b")
    assert without_txt_value(values, "token-a") == ("v=spf1 -all", "token-b")
    assert without_txt_value(values, "absent") == values


def test_txt_chunks():
    assert txt_chunks("a" * 43) == ["a" * 43]
    assert txt_chunks("b" * 600) == ["b" * 255, "b" * 255, "b" * 90]
    assert txt_chunks("") == [""]


def test_absolute_name():
    assert absolute_name("_acme-challenge.Example.com") == "_acme-challenge.example.com."
    assert absolute_name("x.example.com..") == "x.example.com."
    with pytest.raises(ValueError):
        absolute_name(" . ")


# ---- AzureDnsProvider over an in-memory stand-in for DnsManagementClient ------------------------


@dataclass
class FakeRecordSets:
    """record_sets.get/create_or_update/delete with ETags, as the SDK's operations behave."""

    sets: dict[tuple[str, str], RecordSet] = field(default_factory=dict)
    fail_next_write_with: int | None = None
    writes: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    _etag: int = 0

    def get(self, resource_group, zone_name, relative_record_set_name, record_type):
        assert record_type == "TXT"
        found = self.sets.get((zone_name, relative_record_set_name))
        if found is None:
            raise ResourceNotFoundError("not found")
        return found

    def create_or_update(self, resource_group, zone_name, name, record_type, parameters, if_match=None,
                         if_none_match=None):
        self._check(zone_name, name, if_match, if_none_match)
        self._etag += 1
        parameters.etag = f"etag-{self._etag}"
        self.sets[(zone_name, name)] = parameters
        return parameters

    def delete(self, resource_group, zone_name, relative_record_set_name, record_type, if_match=None):
        self._check(zone_name, relative_record_set_name, if_match, None)
        self.sets.pop((zone_name, relative_record_set_name), None)

    def _check(self, zone, name, if_match, if_none_match):
        self.writes.append((zone, name, if_match, if_none_match))
        if self.fail_next_write_with:
            status, self.fail_next_write_with = self.fail_next_write_with, None
            response = SimpleNamespace(
                status_code=status, reason="Refused", headers={}, text=lambda: "", content_type="", request=None
            )
            raise HttpResponseError(response=response)
        current = self.sets.get((zone, name))
        if if_none_match == "*" and current is not None:
            raise AssertionError("would overwrite an existing record set")
        if if_match and (current is None or current.etag != if_match):
            raise AssertionError("stale ETag accepted")

    def values(self, zone: str, name: str) -> list[str]:
        record_set = self.sets.get((zone, name))
        return [] if record_set is None else ["".join(r.value) for r in record_set.txt_records]


def azure_provider(zones=("example.com", "shop.example.com")) -> tuple[AzureDnsProvider, FakeRecordSets]:
    record_sets = FakeRecordSets()
    client = SimpleNamespace(
        zones=SimpleNamespace(list_by_resource_group=lambda rg: [SimpleNamespace(name=z) for z in zones]),
        record_sets=record_sets,
    )
    return AzureDnsProvider([ZoneScope("sub", "dns-rg")], lambda _: client), record_sets


def test_azure_adds_and_removes_values_without_clobbering_others():
    dns, record_sets = azure_provider()
    record_sets.sets[("example.com", "_acme-challenge")] = RecordSet(
        ttl=3600, etag="etag-0", metadata={"owner": "someone"},
        txt_records=[SimpleNamespace(value=["unrelated"])],
    )  # fmt: skip

    dns.set_txt("_acme-challenge.example.com.", "token-a")
    dns.set_txt("_acme-challenge.example.com.", "token-b")
    dns.set_txt("_acme-challenge.shop.example.com.", "token-c")
    assert record_sets.values("example.com", "_acme-challenge") == ["unrelated", "token-a", "token-b"]
    assert record_sets.values("shop.example.com", "_acme-challenge") == ["token-c"]
    record_set = record_sets.sets[("example.com", "_acme-challenge")]
    assert record_set.ttl == 60 and record_set.metadata == {"owner": "someone"}

    dns.clear_txt("_acme-challenge.example.com.", "token-a")
    dns.clear_txt("_acme-challenge.shop.example.com.", "token-c")
    dns.clear_txt("_acme-challenge.shop.example.com.", "token-c")  # idempotent: nothing to do
    assert record_sets.values("example.com", "_acme-challenge") == ["unrelated", "token-b"]
    assert ("shop.example.com", "_acme-challenge") not in record_sets.sets  # last value gone: set deleted
    # Every write was conditional: If-Match on an existing set, If-None-Match: * on a new one.
    assert all(if_match or if_none_match == "*" for _, _, if_match, if_none_match in record_sets.writes)


def test_azure_retries_when_the_record_set_changed_underneath():
    dns, record_sets = azure_provider()
    record_sets.fail_next_write_with = 412
    dns.set_txt("_acme-challenge.example.com.", "token-a")
    assert record_sets.values("example.com", "_acme-challenge") == ["token-a"]
    assert len(record_sets.writes) == 2


def test_azure_reports_other_failures_as_dependency_errors():
    dns, record_sets = azure_provider()
    record_sets.fail_next_write_with = 403
    with pytest.raises(DependencyError) as caught:
        dns.set_txt("_acme-challenge.example.com.", "token-a")
    assert caught.value.code == "DnsUpdateFailed" and "HTTP 403" in caught.value.message


def test_azure_refuses_a_name_no_zone_covers():
    dns, _ = azure_provider()
    with pytest.raises(BadRequest) as caught:
        dns.set_txt("_acme-challenge.example.net.", "token")
    assert caught.value.code == "DnsZoneNotFound" and "dns-rg" in caught.value.message


def test_challtestsrv_unreachable_is_a_dependency_error(closed_port):
    dns = ChallTestSrvProvider(f"http://127.0.0.1:{closed_port}", timeout=2)
    with pytest.raises(DependencyError) as caught:
        dns.set_txt("_acme-challenge.example.com.", "token")
    assert caught.value.code == "DnsUpdateFailed" and "unreachable" in caught.value.message


def test_azure_finds_zones_across_subscriptions_and_lists_again_for_a_new_zone():
    listed: dict[str, list[str]] = {"sub-a": ["example.com"], "sub-b": ["shop.example.com"]}
    record_sets = {sub: FakeRecordSets() for sub in listed}
    group_calls: list[str] = []

    def client(sub: str) -> SimpleNamespace:
        def by_group(rg: str) -> list[SimpleNamespace]:
            group_calls.append(rg)
            return [SimpleNamespace(name=z) for z in listed[sub]]

        def whole() -> list[SimpleNamespace]:
            return [SimpleNamespace(name=z, id=f"/subscriptions/{sub}/resourceGroups/rg-{z}/providers/x/{z}")
                    for z in listed[sub]]  # fmt: skip

        return SimpleNamespace(
            zones=SimpleNamespace(list_by_resource_group=by_group, list=whole), record_sets=record_sets[sub]
        )

    dns = AzureDnsProvider([ZoneScope("sub-a", "dns-rg"), ZoneScope("sub-b")], client)

    dns.set_txt("_acme-challenge.www.shop.example.com.", "child")
    dns.set_txt("_acme-challenge.example.com.", "parent")
    listed["sub-a"].append("example.org")  # created after the first listing
    dns.set_txt("_acme-challenge.example.org.", "new-zone")

    assert record_sets["sub-b"].values("shop.example.com", "_acme-challenge.www") == ["child"]
    assert record_sets["sub-a"].values("example.com", "_acme-challenge") == ["parent"]
    assert record_sets["sub-a"].values("example.org", "_acme-challenge") == ["new-zone"]
    assert group_calls == ["dns-rg", "dns-rg"]  # listed once, then again for the unknown name
    with pytest.raises(BadRequest) as missing:
        dns.set_txt("_acme-challenge.example.net.", "x")
    assert missing.value.code == "DnsZoneNotFound" and "sub-b/*" in str(missing.value)
