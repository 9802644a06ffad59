"""External Account Binding against a second Pebble that requires it, and ACME Renewal Information.

Pebble 2.4.0 (Debian) has no renewalInfo in its directory, so ARI runs against a scripted
endpoint listed in a copy of Pebble's directory: the order itself is real.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from shared.errors import IssuerError
from shared.issuers.acme import ExternalAccountBinding, ari_cert_id
from shared.issuers.base import IssueRequest
from shared.pki import KeyType, dns_names, generate_private_key


def request_for(*names: str) -> IssueRequest:
    return IssueRequest.for_key(hostnames=names, private_key=generate_private_key(KeyType.EC256))


def test_registration_with_eab_works(make_issuer, pebble_eab):
    kid, hmac_key = next(iter(pebble_eab.eab_keys.items()))
    issuer = make_issuer(
        directory_url=pebble_eab.directory_url,
        ca_bundle=pebble_eab.ca_bundle,
        eab=ExternalAccountBinding(kid, hmac_key),
    )
    issued = issuer.issue(request_for("eab.example.com"))
    assert dns_names(issued.certificate) == ("eab.example.com",)


def test_registration_without_eab_fails_clearly(make_issuer, pebble_eab):
    issuer = make_issuer(directory_url=pebble_eab.directory_url, ca_bundle=pebble_eab.ca_bundle)
    with pytest.raises(IssuerError) as caught:
        issuer.account_url()
    assert caught.value.code == "AccountRejected"
    assert "requires External Account Binding" in caught.value.message
    assert "ACME_EAB_KID" in caught.value.message


def test_registration_with_a_wrong_eab_key_quotes_the_ca_and_not_the_key(make_issuer, pebble_eab):
    kid = next(iter(pebble_eab.eab_keys))
    wrong_key = "c2VjcmV0LWJ1dC13cm9uZy1obWFjLWtleS1mb3ItdGhlLXRlc3Q"
    issuer = make_issuer(
        directory_url=pebble_eab.directory_url,
        ca_bundle=pebble_eab.ca_bundle,
        eab=ExternalAccountBinding(kid, wrong_key),
    )
    with pytest.raises(IssuerError) as caught:
        issuer.account_url()
    err = caught.value
    assert err.code == "AccountRejected"
    assert "registering the account" in err.message and "urn:ietf:params:acme:error:" in err.message
    assert wrong_key not in err.message and wrong_key not in repr(issuer.eab)


def test_pebble_2_4_serves_no_renewal_info(pebble, make_issuer):
    directory = requests.get(pebble.directory_url, verify=str(pebble.ca_bundle), timeout=5).json()
    assert "renewalInfo" not in directory
    issuer = make_issuer()
    issued = issuer.issue(request_for("noari.example.com"))
    assert issuer.renewal_window(issued.certificate) is None


def test_issue_returns_the_ari_window_when_the_directory_offers_renewal_info(make_issuer, pebble, scripted_acme):
    real_directory = requests.get(pebble.directory_url, verify=str(pebble.ca_bundle), timeout=5).json()
    ca = scripted_acme(real_directory)
    ca.directory["renewalInfo"] = ca.url("/renewal-info")
    asked: list[str] = []

    @ca.route("GET", "/renewal-info/")
    def renewal_info(server, path, body):
        asked.append(path.rsplit("/", 1)[-1])
        window = {"start": "2031-01-02T03:04:05.123456789Z", "end": "2031-01-04T03:04:05Z"}
        return 200, {"Retry-After": "21600"}, {"suggestedWindow": window}

    issuer = make_issuer(directory_url=ca.url("/dir"))
    issued = issuer.issue(request_for("ari.example.com"))

    assert asked == [ari_cert_id(issued.certificate)]
    start, end = issued.renewal_window
    assert start.replace(microsecond=0) == datetime(2031, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert end == datetime(2031, 1, 4, 3, 4, 5, tzinfo=timezone.utc)
    assert issuer.renewal_window(issued.certificate) == issued.renewal_window


def test_broken_renewal_info_does_not_fail_an_issued_certificate(make_issuer, pebble, scripted_acme):
    real_directory = requests.get(pebble.directory_url, verify=str(pebble.ca_bundle), timeout=5).json()
    ca = scripted_acme(real_directory)
    ca.directory["renewalInfo"] = ca.url("/renewal-info")

    @ca.route("GET", "/renewal-info/")
    def renewal_info(server, path, body):
        return 200, {}, {"suggestedWindow": {"start": "2031-01-04T00:00:00Z", "end": "2031-01-02T00:00:00Z"}}

    issuer = make_issuer(directory_url=ca.url("/dir"))
    issued = issuer.issue(request_for("badari.example.com"))
    assert issued.renewal_window is None
    with pytest.raises(IssuerError) as caught:
        issuer.renewal_window(issued.certificate)
    assert caught.value.code == "IssuerFailed" and "ends" in caught.value.message
