"""Failures surface as IssuerError with our code and the CA's own words."""
from __future__ import annotations

import threading

import pytest
import requests

from shared.errors import IssuerError
from shared.issuers import acme
from shared.issuers.base import IssueRequest
from shared.pki import KeyType, generate_private_key


class RecordingDns:
    """Wraps a DNS provider; optionally publishes `garbage` instead of the real validation value."""

    def __init__(self, inner, *, garbage: str | None = None, publish: bool = True) -> None:
        self.inner = inner
        self.garbage = garbage
        self.publish = publish
        self.set_calls: list[tuple[str, str]] = []
        self.clear_calls: list[tuple[str, str]] = []

    def set_txt(self, fqdn: str, value: str) -> None:
        self.set_calls.append((fqdn, value))
        if self.publish:
            self.inner.set_txt(fqdn, self.garbage or value)

    def clear_txt(self, fqdn: str, value: str) -> None:
        self.clear_calls.append((fqdn, value))
        if self.publish:
            self.inner.clear_txt(fqdn, value)


def request_for(*names: str) -> IssueRequest:
    return IssueRequest.for_key(hostnames=names, private_key=generate_private_key(KeyType.EC256))


def test_ca_unreachable(make_issuer, closed_port):
    issuer = make_issuer(directory_url=f"https://127.0.0.1:{closed_port}/dir")
    with pytest.raises(IssuerError) as caught:
        issuer.issue(request_for("down.example.com"))
    assert caught.value.code == "IssuerUnreachable"
    assert "reading the directory" in caught.value.message
    assert "Connection refused" in caught.value.message


def test_untrusted_ca_tls_is_reported_as_unreachable_with_a_hint(make_issuer):
    issuer = make_issuer(ca_bundle=None)  # Pebble's TLS certificate is not publicly trusted
    with pytest.raises(IssuerError) as caught:
        issuer.issue(request_for("tls.example.com"))
    assert caught.value.code == "IssuerUnreachable"
    assert "TLS verification failed" in caught.value.message and "ACME_CA_BUNDLE" in caught.value.message


@pytest.mark.parametrize(
    "dns_options, expected",
    [
        ({"garbage": "not-the-validation-value"}, "Correct value not found for DNS challenge"),
        ({"publish": False}, "No TXT records found for DNS challenge"),
    ],
    ids=["wrong-txt-value", "no-txt-record"],
)
def test_failed_dns01_validation_is_order_invalid_with_the_ca_detail(make_issuer, challtestsrv, dns_options, expected):
    dns = RecordingDns(challtestsrv.provider(), **dns_options)
    issuer = make_issuer(dns=dns)
    with pytest.raises(IssuerError) as caught:
        issuer.issue(request_for("invalid.example.com", "*.invalid.example.com"))
    err = caught.value
    assert err.code == "OrderInvalid"
    assert "urn:ietf:params:acme:error:unauthorized" in err.message
    assert expected in err.message
    assert "invalid.example.com" in err.message
    # Both values were published, and both were withdrawn despite the failure.
    assert len(dns.set_calls) == 2 and sorted(dns.clear_calls) == sorted(dns.set_calls)


def test_rate_limited_new_order_carries_retry_after(make_issuer, pebble, scripted_acme):
    real_directory = requests.get(pebble.directory_url, verify=str(pebble.ca_bundle), timeout=5).json()
    ca = scripted_acme(real_directory)  # account calls go to Pebble, newOrder to the script
    ca.directory["newOrder"] = ca.url("/new-order")

    @ca.route("POST", "/new-order")
    def rate_limited(server, path, body):
        problem = {
            "type": "urn:ietf:params:acme:error:rateLimited",
            "detail": "too many new orders (10) from this account in the last 3h0m0s",
            "status": 429,
        }
        return 429, {"Content-Type": "application/problem+json", "Retry-After": "3600"}, problem

    issuer = make_issuer(directory_url=ca.url("/dir"))
    with pytest.raises(IssuerError) as caught:
        issuer.issue(request_for("busy.example.com"))
    err = caught.value
    assert err.code == "RateLimited"
    assert err.retry_after == 3600
    assert "urn:ietf:params:acme:error:rateLimited" in err.message and "too many new orders" in err.message


def test_order_that_never_completes_times_out_honouring_retry_after(make_issuer, scripted_acme, challtestsrv):
    ca = scripted_acme()
    order_stays_pending_until_polled(ca, "slow.example.com")

    @ca.route("POST", "/order/1")
    def order(server, path, body):
        body = {"status": "pending", "authorizations": [server.url("/authz/1")], "finalize": server.url("/finalize/1")}
        return 200, {"Retry-After": "1"}, body

    dns = RecordingDns(challtestsrv.provider())
    issuer = make_issuer(directory_url=ca.url("/dir"), dns=dns, order_timeout=2.5, poll_interval=0.05)
    with pytest.raises(IssuerError) as caught:
        issuer.issue(request_for("slow.example.com"))
    assert caught.value.code == "OrderTimeout"
    assert "still pending after 2.5 s" in caught.value.message
    # Retry-After: 1 over a 2.5 s deadline means about 3-4 polls, not the 50 poll_interval allows.
    assert 2 <= ca.count("POST", "/order/1") <= 4
    assert dns.clear_calls == dns.set_calls != []


def test_an_order_without_retry_after_is_polled_soon_then_less_often(
    make_issuer, scripted_acme, challtestsrv, monkeypatch
):
    """Pebble sends no Retry-After and validates in tens of ms: a fixed 1 s wait before the
    second poll made most issues take ~1.1 s instead of ~0.1 s (the bench's Azure DNS gap)."""
    ca = scripted_acme()
    order_stays_pending_until_polled(ca, "poll.example.com")

    @ca.route("POST", "/order/1")
    def order(server, path, body):
        done = ca.count("POST", "/order/1") > 6  # pending for six polls, then the CA gives up on it
        problem = {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "no TXT record"}
        body = {"status": "invalid" if done else "pending", "authorizations": [server.url("/authz/1")],
                "finalize": server.url("/finalize/1"), **({"error": problem} if done else {})}  # fmt: skip
        return 200, {}, body

    waits: list[float] = []
    real_sleep, caller = acme.time.sleep, threading.current_thread()

    def recording_sleep(seconds: float) -> None:
        if threading.current_thread() is caller:
            waits.append(round(seconds, 3))
        real_sleep(seconds)

    monkeypatch.setattr(acme.time, "sleep", recording_sleep)
    issuer = make_issuer(directory_url=ca.url("/dir"), dns=RecordingDns(challtestsrv.provider()), poll_interval=1.0)
    with pytest.raises(IssuerError):
        issuer.issue(request_for("poll.example.com"))
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def order_stays_pending_until_polled(ca, hostname: str) -> None:
    """A CA whose order for `hostname` has one DNS-01 authorization that stays processing: what
    the order's own route answers (the test's part) decides how the order ends."""
    token = "t" * 43

    @ca.route("POST", "/new-order")
    def new_order(server, path, body):
        order = {
            "status": "pending",
            "identifiers": [{"type": "dns", "value": hostname}],
            "authorizations": [server.url("/authz/1")],
            "finalize": server.url("/finalize/1"),
        }
        return 201, {"Location": server.url("/order/1")}, order

    @ca.route("POST", "/authz/1")
    def authz(server, path, body):
        challenge = {"type": "dns-01", "url": server.url("/chall/1"), "token": token, "status": "pending"}
        identifier = {"type": "dns", "value": hostname}
        return 200, {}, {"status": "pending", "identifier": identifier, "challenges": [challenge]}

    @ca.route("POST", "/chall/1")
    def chall(server, path, body):
        link = f'<{server.url("/authz/1")}>;rel="up"'
        challenge = {"type": "dns-01", "url": server.url("/chall/1"), "token": token, "status": "processing"}
        return 200, {"Link": link}, challenge
