"""ACME profiles and ARI (`replaces`, Retry-After) with the real acme library against Pebble.

What ran against real Pebble 2.4.0 and what did not: Pebble 2.4.0 knows neither profiles nor
ARI, so its directory is served by a scripted front (tests/acme/conftest.py) that adds
`meta.profiles` and `renewalInfo`; the profile check and renewalInfo answers are the front's.
Every order (newOrder carrying `profile` and `replaces`, authorizations, DNS-01 through
pebble-challtestsrv, finalize, download) is real Pebble, which ignores both fields: that the
fields were sent is read from the JWS payloads on the wire, not from a CA acting on them.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import josepy as jose
import pytest
import requests

from shared.errors import BadRequest
from shared.issuers.acme import ari_cert_id
from shared.issuers.base import IssueRequest
from shared.pki import KeyType, generate_private_key

PROFILES = {"classic": "90 days", "shortlived": "160 hours", "tlsserver": "45 days"}


def request_for(name: str, **fields: Any) -> IssueRequest:
    request = IssueRequest.for_key(hostnames=(name,), private_key=generate_private_key(KeyType.EC256))
    return IssueRequest(**{**request.__dict__, **fields})


@pytest.fixture
def new_orders(monkeypatch: pytest.MonkeyPatch, pebble) -> list[dict]:
    """The payload of every newOrder the client posts, decoded from its JWS."""
    sent: list[dict] = []
    original: Callable[..., requests.Response] = requests.Session.send

    def send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if request.method == "POST" and (request.url or "").endswith("/order-plz") and request.body:
            body = json.loads(request.body)
            sent.append(json.loads(jose.b64decode(body["payload"])))
        return original(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent


@pytest.fixture
def front(pebble, scripted_acme):
    """Pebble's directory with meta.profiles and renewalInfo added, served by the scripted front."""
    directory = requests.get(pebble.directory_url, verify=str(pebble.ca_bundle), timeout=5).json()
    ca = scripted_acme(directory)
    ca.directory["meta"] = {**directory.get("meta", {}), "profiles": PROFILES}
    ca.directory["renewalInfo"] = ca.url("/renewal-info")
    return ca


def test_pebble_2_4_lists_no_profiles_so_any_profile_is_refused(make_issuer):
    with pytest.raises(BadRequest) as refused:
        make_issuer().check_profile("shortlived")
    assert refused.value.code == "UnknownProfile" and "its profiles: none" in refused.value.message


def test_a_profile_the_directory_lists_passes_and_another_is_refused_naming_the_offered(make_issuer, front):
    issuer = make_issuer(directory_url=front.url("/dir"))
    issuer.check_profile("shortlived")
    with pytest.raises(BadRequest) as refused:
        issuer.check_profile("yearly")
    assert refused.value.code == "UnknownProfile"
    assert "classic, shortlived, tlsserver" in refused.value.message


def test_the_profile_goes_into_new_order(make_issuer, front, new_orders):
    issuer = make_issuer(directory_url=front.url("/dir"))
    issuer.issue(request_for("profile.example.com", profile="shortlived"))
    assert new_orders[-1]["profile"] == "shortlived"
    assert "replaces" not in new_orders[-1]


def test_a_renewal_order_names_the_certificate_it_replaces(make_issuer, front, new_orders):
    @front.route("GET", "/renewal-info/")
    def renewal_info(server, path, body):
        window = {"start": "2031-01-02T00:00:00Z", "end": "2031-01-03T00:00:00Z"}
        return 200, {"Retry-After": "21600"}, {"suggestedWindow": window}

    issuer = make_issuer(directory_url=front.url("/dir"))
    first = issuer.issue(request_for("replaces.example.com"))
    assert first.ari_id == ari_cert_id(first.certificate)
    renewed = issuer.issue(request_for("replaces.example.com", replaces=first.ari_id, profile="tlsserver"))
    assert new_orders[-1]["replaces"] == first.ari_id and new_orders[-1]["profile"] == "tlsserver"
    assert renewed.certificate.serial_number != first.certificate.serial_number  # Pebble issued it

    info = issuer.renewal_info(renewed.ari_id)
    assert info is not None and info.retry_after is not None
    assert info.retry_after.total_seconds() == 21600
    assert info.window[0].isoformat() == "2031-01-02T00:00:00+00:00"


def test_without_renewal_info_no_replaces_is_sent_and_no_ari_id_kept(make_issuer, new_orders):
    issuer = make_issuer()
    issued = issuer.issue(request_for("noreplaces.example.com", replaces="aki.serial"))
    assert "replaces" not in new_orders[-1]
    assert issued.ari_id == ""
    assert issuer.renewal_info("aki.serial") is None
