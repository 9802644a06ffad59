"""Issuance against a real Pebble, validated by real DNS-01 lookups through pebble-challtestsrv."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from shared.errors import IssuerError
from shared.issuers.acme import AcmeIssuer, account_secret_name, build_acme_issuer
from shared.issuers.base import IssuedCertificate, IssueRequest
from shared.pki import KeyType, dns_names, generate_private_key, key_matches, private_key_to_pem
from shared.settings import Settings


def verify_chain(issued: IssuedCertificate, root: x509.Certificate, hostname: str) -> None:
    """Raises unless leaf -> chain -> root verifies as a TLS server certificate for `hostname`."""
    verifier = (
        PolicyBuilder()
        .store(Store([root]))
        .time(datetime.now(timezone.utc))
        .build_server_verifier(x509.DNSName(hostname))
    )
    verifier.verify(issued.certificate, list(issued.chain))


def test_issues_for_name_and_wildcard_with_real_dns01(pebble, challtestsrv, vault):
    # Built from app settings, as the function app builds it.
    env = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "KEY_VAULT_URL": "https://127.0.0.1:8443",
        "ACME_DIRECTORY_URL": pebble.directory_url,
        "ACME_CONTACT": "ops@example.com",
        "ACME_CA_BUNDLE": str(pebble.ca_bundle),
        "OPERATIONS_QUEUE": "certsync-operations",
        "AUTO_RENEW_SCHEDULE": "0 0 */8 * * *",
        "SYNC_SWEEP_SCHEDULE": "0 */15 * * * *",
    }
    issuer = build_acme_issuer(Settings.from_env(env), vault, dns=challtestsrv.provider())
    issuer.poll_interval = 0.1
    key = generate_private_key(KeyType.EC256)

    issued = issuer.issue(IssueRequest.for_key(hostnames=("shop.example.com", "*.shop.example.com"), private_key=key))

    assert sorted(dns_names(issued.certificate)) == ["*.shop.example.com", "shop.example.com"]
    assert key_matches(key, issued.certificate)
    assert issued.chain, "Pebble sends its intermediate"
    verify_chain(issued, pebble.root(), "www.shop.example.com")
    verify_chain(issued, pebble.root(), "shop.example.com")
    assert issued.renewal_window is None  # Pebble 2.4.0 does not offer renewalInfo
    assert account_secret_name(pebble.directory_url) in vault.versions


def test_renews_with_a_new_key_and_with_the_same_key(make_issuer, pebble):
    issuer: AcmeIssuer = make_issuer()
    names = ("renew.example.org",)
    first_key = generate_private_key(KeyType.RSA2048)
    first = issuer.issue(IssueRequest.for_key(hostnames=names, private_key=first_key))

    rekeyed_key = generate_private_key(KeyType.EC256)
    rekeyed = issuer.issue(IssueRequest.for_key(hostnames=names, private_key=rekeyed_key))
    same_key = issuer.issue(IssueRequest.for_key(hostnames=names, private_key=first_key, validity_days=30))

    serials = {c.certificate.serial_number for c in (first, rekeyed, same_key)}
    assert len(serials) == 3
    assert key_matches(rekeyed_key, rekeyed.certificate) and not key_matches(first_key, rekeyed.certificate)
    assert key_matches(first_key, same_key.certificate)
    for issued in (first, rekeyed, same_key):
        verify_chain(issued, pebble.root(), "renew.example.org")


def test_account_key_is_kept_in_the_vault_and_reused(make_issuer, vault):
    first: AcmeIssuer = make_issuer()
    account = first.account_url()
    assert vault.writes == 1
    secret = vault.get_secret(first.account_secret_name)
    assert secret.content_type == "application/x-pem-file"
    assert "PRIVATE KEY" in (secret.value or "")

    # A second process: same vault, fresh issuer, finds the same account (onlyReturnExisting).
    second: AcmeIssuer = make_issuer()
    assert second.account_url() == account
    key = generate_private_key(KeyType.EC256)
    issued = second.issue(IssueRequest.for_key(hostnames=("reuse.example.net",), private_key=key))
    assert dns_names(issued.certificate) == ("reuse.example.net",)
    assert vault.writes == 1, "no second account key was created"


def test_an_rsa_account_key_placed_in_the_vault_is_used(make_issuer, vault, pebble):
    # e.g. an operator importing an existing account key: RSA signs with RS256 instead of ES256.
    account_key = generate_private_key(KeyType.RSA2048)
    vault.set_secret(account_secret_name(pebble.directory_url), private_key_to_pem(account_key))
    issuer: AcmeIssuer = make_issuer()
    leaf_key = generate_private_key(KeyType.RSA2048)
    issued = issuer.issue(IssueRequest.for_key(hostnames=("rsa-account.example.com",), private_key=leaf_key))
    assert key_matches(leaf_key, issued.certificate)
    assert vault.writes == 1, "the issuer used the stored key instead of creating one"

    # The CA refuses a certificate for the account's own key, and we pass on its words.
    with pytest.raises(IssuerError) as caught:
        issuer.issue(IssueRequest.for_key(hostnames=("rsa-account.example.com",), private_key=account_key))
    assert caught.value.code == "OrderInvalid"
    assert "finalizing the order" in caught.value.message and "badCSR" in caught.value.message


def test_concurrent_issues_share_one_account(make_issuer, vault):
    issuer: AcmeIssuer = make_issuer()
    names = [f"parallel{i}.example.com" for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        issued = list(
            pool.map(
                lambda name: issuer.issue(
                    IssueRequest.for_key(hostnames=(name,), private_key=generate_private_key(KeyType.EC256))
                ),
                names,
            )
        )
    assert [dns_names(i.certificate) for i in issued] == [(n,) for n in names]
    assert vault.writes == 1
