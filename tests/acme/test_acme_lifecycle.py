"""Issue, renew and rekey through certsync's operations with the ACME issuer: real Pebble,
real DNS-01 validation through challtestsrv, the account key in the Key Vault emulator."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared import pki
from shared.clock import utcnow
from shared.lifecycle import start_renewal
from shared.model import CertificateStatus, OperationKind, OperationStatus
from shared.secret_refs import certificate_at
from tests.integration.helpers import drain, issued


def run(ctx, name, kind, params=None):
    op = start_renewal(ctx, name, kind, params or {})
    drain(ctx)
    return ctx.operations.get(op.id)


def test_issue_renew_and_rekey_with_real_dns01(acme_ctx, pebble, unique):
    ctx = acme_ctx
    hosts = [f"acme-{unique}.example.com", f"*.acme-{unique}.example.com"]
    first = issued(ctx, f"acme-{unique}", hosts, issuer="acme", key_type=pki.KeyType.EC256)
    held = certificate_at(ctx.vault, first.secret_name, first.secret_version).bundle
    assert sorted(pki.dns_names(held.certificate)) == sorted(hosts)
    assert held.chain and pki.key_matches(held.private_key, held.certificate)
    assert first.renewal_due_at < first.not_after
    assert any(v.name.startswith("certsync-acme-account-") for v in ctx.vault.list_secrets())

    renewed = run(ctx, first.name, OperationKind.RENEW)
    second = ctx.certificates.get(first.name)
    assert renewed.status is OperationStatus.SUCCEEDED, renewed
    assert second.thumbprint != first.thumbprint and second.secret_version != first.secret_version

    rekeyed = run(ctx, first.name, OperationKind.REKEY, {"keyType": "RSA2048"})
    third = ctx.certificates.get(first.name)
    assert rekeyed.status is OperationStatus.SUCCEEDED, rekeyed
    key = certificate_at(ctx.vault, third.secret_name, third.secret_version).bundle.private_key
    assert pki.key_type_of(key) is pki.KeyType.RSA2048
    assert third.not_after >= second.not_after  # ACME: the CA's lifetime, not the old expiry


@pytest.mark.parametrize("failure", ["unreachable", "order-invalid", "rate-limited"])
def test_failed_acme_renewal_keeps_the_old_version_and_records_backoff(
    acme_ctx, make_ctx, closed_port, unique, failure, pebble, challtestsrv, scripted_acme
):
    ctx = acme_ctx
    cert = issued(ctx, f"fail-{unique}", [f"fail-{unique}.example.com"], issuer="acme")
    if failure == "unreachable":
        broken = make_ctx(ACME_DIRECTORY_URL=f"https://127.0.0.1:{closed_port}/dir", dns=challtestsrv.provider())
        ctx._issuers["acme"] = broken.issuer("acme")
        expected, minimum = "IssuerUnreachable", timedelta(minutes=59)
    elif failure == "order-invalid":
        from shared.issuers.acme import AcmeIssuer

        class WrongTxt:  # publishes a value Pebble will not accept: the CA marks the order invalid
            def __init__(self, inner):
                self.inner = inner

            def set_txt(self, fqdn, value):
                self.inner.set_txt(fqdn, "not-the-validation-value")

            def clear_txt(self, fqdn, value):
                self.inner.clear_txt(fqdn, value)

        ctx._issuers["acme"] = AcmeIssuer(pebble.directory_url, vault=ctx.vault, dns=WrongTxt(challtestsrv.provider()),
                                          ca_bundle=pebble.ca_bundle, order_timeout=30.0, poll_interval=0.1)  # fmt: skip
        expected, minimum = "OrderInvalid", timedelta(minutes=59)
    else:
        import requests

        ca = scripted_acme(requests.get(pebble.directory_url, verify=str(pebble.ca_bundle), timeout=5).json())
        ca.directory["newOrder"] = ca.url("/new-order")

        @ca.route("POST", "/new-order")
        def limited(server, path, body):
            problem = {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many orders", "status": 429}
            return 429, {"Content-Type": "application/problem+json", "Retry-After": "10800"}, problem

        limited_ctx = make_ctx(ACME_DIRECTORY_URL=ca.url("/dir"), ACME_CA_BUNDLE=str(pebble.ca_bundle), dns=challtestsrv.provider())
        ctx._issuers["acme"] = limited_ctx.issuer("acme")
        expected, minimum = "RateLimited", timedelta(hours=2, minutes=59)  # Retry-After beats the 1 h backoff

    op = run(ctx, cert.name, OperationKind.RENEW)
    after = ctx.certificates.get(cert.name)
    assert op.status is OperationStatus.FAILED and op.error_code == expected, op
    assert after.status is CertificateStatus.ISSUED and after.secret_version == cert.secret_version
    assert after.failure_count == 1 and expected in after.last_error
    assert after.renewal_due_at - utcnow() > minimum
    assert ctx.vault.get_secret(cert.secret_name).version == cert.secret_version
