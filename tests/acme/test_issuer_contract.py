"""Issuer contract: the same assertions for every issuer behind shared.issuers.base.Issuer, the
local CA (in the fast ring) and ACME against Pebble with real DNS-01 (marker `emulators`), so
the use cases can rely on one meaning of "issued" whichever issuer a certificate names."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from shared.issuers.base import Issuer, IssueRequest
from shared.issuers.local_ca import LocalCA
from shared.pki import KeyType, certificates_from_pem, dns_names, generate_private_key, key_matches
from shared.revocation import Reason
from tests.fakes.hooks import Hooks
from tests.fakes.tables import FakeRevocationListStore
from tests.fakes.vault import FakeVault


@dataclass
class IssuerUnderTest:
    issuer: Issuer
    root: Callable[[], x509.Certificate]  # the root a client must trust


@pytest.fixture(params=["local", pytest.param("acme", marks=pytest.mark.emulators)])
def under_test(request: pytest.FixtureRequest) -> IssuerUnderTest:
    if request.param == "local":
        ca = LocalCA(FakeVault(), revocations=FakeRevocationListStore(Hooks()))
        return IssuerUnderTest(ca, lambda: certificates_from_pem(ca.root_certificate_pem())[0])
    pebble = request.getfixturevalue("pebble")
    return IssuerUnderTest(request.getfixturevalue("make_issuer")(), pebble.root)


def verify(leaf: x509.Certificate, chain: tuple[x509.Certificate, ...], root: x509.Certificate, hostname: str) -> None:
    policy = PolicyBuilder().store(Store([root])).time(datetime.now(UTC))
    policy.build_server_verifier(x509.DNSName(hostname)).verify(leaf, list(chain))


@pytest.mark.parametrize("key_type", [KeyType.EC256, KeyType.RSA2048])
def test_issues_a_certificate_for_the_key_and_names_that_clients_accept(
    under_test: IssuerUnderTest, key_type: KeyType
) -> None:
    key = generate_private_key(key_type)
    names = ("contract.example.com", "*.contract.example.com")

    issued = under_test.issuer.issue(IssueRequest.for_key(hostnames=names, private_key=key))

    assert sorted(dns_names(issued.certificate)) == sorted(names)
    assert key_matches(key, issued.certificate)
    assert issued.certificate not in issued.chain  # the chain excludes the leaf
    now = datetime.now(UTC)
    assert issued.certificate.not_valid_before_utc <= now < issued.certificate.not_valid_after_utc
    assert issued.certificate.not_valid_after_utc - now > timedelta(days=1)
    verify(issued.certificate, issued.chain, under_test.root(), "contract.example.com")
    verify(issued.certificate, issued.chain, under_test.root(), "www.contract.example.com")


def test_every_issuance_is_a_new_certificate(under_test: IssuerUnderTest) -> None:
    key = generate_private_key(KeyType.EC256)
    request = IssueRequest.for_key(hostnames=("again.example.com",), private_key=key)
    first, second = under_test.issuer.issue(request), under_test.issuer.issue(request)
    assert first.certificate.serial_number != second.certificate.serial_number
    assert key_matches(key, second.certificate)


def test_revoking_twice_is_an_answer_not_a_failure(under_test: IssuerUnderTest) -> None:
    key = generate_private_key(KeyType.EC256)
    issued = under_test.issuer.issue(IssueRequest.for_key(hostnames=("revoked.example.com",), private_key=key))
    assert Reason.SUPERSEDED in under_test.issuer.capabilities.revocation_reasons
    assert under_test.issuer.revoke(issued.certificate, Reason.SUPERSEDED) is False
    assert under_test.issuer.revoke(issued.certificate, Reason.SUPERSEDED) is True
