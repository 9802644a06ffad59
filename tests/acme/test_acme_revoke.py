"""Revocation against real Pebble 2.4.0 (revokeCert, RFC 8555 section 7.6), proven through
Pebble's management API (/cert-status-by-serial: status, reason, time), both on the issuer and
through certsync's revoke operation, whose renewal is a real order and whose sync moves the
links and bindings (Azurite and the Key Vault emulator). Nothing here is scripted: Pebble
answers revokeCert, alreadyRevoked and unauthorized itself."""
from __future__ import annotations

import pytest
import requests
from cryptography import x509

from shared import pki
from shared.errors import IssuerError
from shared.issuers.base import IssueRequest
from shared.model import CertificateStatus, OperationKind, OperationStatus
from shared.revocation import Reason
from shared.revoke import start_revocation
from shared.secret_refs import certificate_at
from tests.integration.helpers import drain, issued, linked_and_bound


def status_at_pebble(pebble, serial: int) -> dict:
    response = requests.get(
        f"{pebble.management_url}/cert-status-by-serial/{serial:x}", verify=str(pebble.ca_bundle), timeout=5
    )
    response.raise_for_status()
    return response.json()


def issue(issuer, host: str) -> x509.Certificate:
    key = pki.generate_private_key(pki.KeyType.EC256)
    return issuer.issue(IssueRequest.for_key(hostnames=(host,), private_key=key)).certificate


def test_pebble_revokes_with_the_reason_and_answers_a_second_revoke_as_already_revoked(pebble, make_issuer, vault):
    issuer = make_issuer()
    leaf = issue(issuer, "revoke-me.example.com")
    assert status_at_pebble(pebble, leaf.serial_number)["Status"] == "Valid"

    assert issuer.revoke(leaf, Reason.KEY_COMPROMISE) is False
    status = status_at_pebble(pebble, leaf.serial_number)
    assert status["Status"] == "Revoked" and status["Reason"] == 1 and status["RevokedAt"]
    assert issuer.revoke(leaf, Reason.KEY_COMPROMISE) is True  # Pebble's own alreadyRevoked


def test_another_account_may_not_revoke_and_the_error_quotes_the_ca(pebble, make_issuer):
    owner = make_issuer()
    leaf = issue(owner, "not-yours.example.com")
    stranger = make_issuer(vault=type(owner.vault)())  # a new account key: a different account
    with pytest.raises(IssuerError) as refused:
        stranger.revoke(leaf, Reason.UNSPECIFIED)
    assert refused.value.code == "RevocationRefused" and "unauthorized" in refused.value.message
    assert status_at_pebble(pebble, leaf.serial_number)["Status"] == "Valid"


def test_a_revoke_operation_revokes_at_pebble_renews_with_a_new_key_and_the_links_follow(acme_ctx, pebble, unique):
    ctx = acme_ctx
    host = f"rv-{unique}.example.com"
    first = issued(ctx, f"rv-{unique}", [host], issuer="acme", key_type=pki.KeyType.EC256)
    linked_and_bound(ctx, first, f"rv-link-{unique}", [("app1", host), ("app2", host)])
    old = certificate_at(ctx.vault, first.secret_name, first.secret_version).bundle

    op = start_revocation(ctx, first.name, "keyCompromise")
    drain(ctx)
    done = ctx.operations.get(op.id)
    assert done.status is OperationStatus.SUCCEEDED, done
    status = status_at_pebble(pebble, old.certificate.serial_number)
    assert status["Status"] == "Revoked" and status["Reason"] == 1

    after = ctx.certificates.get(first.name)
    renewal = ctx.operations.get(done.result["renewalOperation"])
    assert renewal.kind is OperationKind.REKEY and renewal.status is OperationStatus.SUCCEEDED, renewal
    assert after.status is CertificateStatus.ISSUED and after.thumbprint != first.thumbprint
    new = certificate_at(ctx.vault, after.secret_name, after.secret_version).bundle
    assert not pki.key_matches(old.private_key, new.certificate)
    assert status_at_pebble(pebble, new.certificate.serial_number)["Status"] == "Valid"
    assert [(r.thumbprint, r.reason) for r in after.revoked] == [(first.thumbprint, "keyCompromise")]
    assert ctx.links.get(f"rv-link-{unique}").thumbprint == after.thumbprint
    assert {b.thumbprint for b in ctx.bindings.for_link(f"rv-link-{unique}")} == {after.thumbprint}

    again = start_revocation(ctx, first.name, "keyCompromise", first.thumbprint)
    drain(ctx)
    repeated = ctx.operations.get(again.id)
    assert repeated.status is OperationStatus.SUCCEEDED and repeated.result["alreadyRevoked"] is True
    assert ctx.certificates.get(first.name).secret_version == after.secret_version  # no second renewal
