"""Revoke on the fakes with the real local CA: the CA's answer recorded on the certificate, the
CRL naming the serial, a renewal with a new key when the current version was revoked (links and
bindings follow it), never a binding on a revoked certificate, reasons checked per issuer, a
second revoke answered as such, and a revoke racing a renewal told the truth."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared import pki
from shared.auto_renew import run_auto_renew
from shared.clock import utcnow
from shared.errors import BadRequest, Conflict, IssuerError, NotFound
from shared.lifecycle import NewCertificate, create_certificate, set_auto_renew, start_renewal
from shared.links import BindingRequest, put_binding
from shared.model import Certificate, CertificateStatus, Operation, OperationKind, OperationStatus
from shared.revocation import Reason
from shared.revoke import start_revocation
from shared.secret_refs import certificate_at
from shared.sync.executor import sync_link
from shared.sync.handlers import start_certificate_sync
from tests.fakes.clock import TickingClock
from tests.fakes.context import ENGINE, Fakes, drain, fake_context
from tests.fakes.issuer import FakeAcmeIssuer
from tests.service.conftest import HOST, answer, issued, linked_and_bound
from tests.webhook_receiver import webhook_receiver


def revoke(fakes: Fakes, name: str, reason: str = "keyCompromise", version: str | None = None) -> Operation:
    op = start_revocation(fakes.ctx, name, reason, version)
    drain(fakes)
    return fakes.ctx.operations.get(op.id)


def crl_of(fakes: Fakes) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(fakes.ctx.local_ca().crl_der())


def key_of(fakes: Fakes, cert: Certificate) -> bytes:
    held = certificate_at(fakes.vault, cert.secret_name, cert.secret_version)
    return held.bundle.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_revoking_the_current_version_lists_it_renews_with_a_new_key_and_moves_links_and_bindings(fakes):
    before = issued(fakes, "shop")
    linked_and_bound(fakes, before, "shop-link", apps=("app1", "app2"))
    op = revoke(fakes, "shop")

    assert op.status is OperationStatus.SUCCEEDED, op.error_message
    assert op.result["version"] == before.secret_version and op.result["alreadyRevoked"] is False
    entry = crl_of(fakes).get_revoked_certificate_by_serial_number(int(before.serial, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise

    after = fakes.ctx.certificates.get("shop")
    renewal = fakes.ctx.operations.get(op.result["renewalOperation"])
    assert renewal.kind is OperationKind.REKEY and renewal.status is OperationStatus.SUCCEEDED
    assert after.status is CertificateStatus.ISSUED and after.active_operation == ""
    assert after.secret_version != before.secret_version
    assert key_of(fakes, after) != key_of(fakes, before)
    [recorded] = after.revoked
    assert (recorded.version, recorded.thumbprint, recorded.reason) == (before.secret_version, before.thumbprint,
                                                                        "keyCompromise")
    link = fakes.ctx.links.get("shop-link")
    assert link.thumbprint == after.thumbprint and not link.last_sync_error
    assert {b.thumbprint for b in fakes.ctx.bindings.for_link("shop-link")} == {after.thumbprint}


def test_with_auto_renew_off_the_certificate_rests_revoked_and_nothing_binds_the_revoked_version(fakes):
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link")
    set_auto_renew(fakes.ctx, "shop", False)
    op = revoke(fakes, "shop", "superseded")

    after = fakes.ctx.certificates.get("shop")
    assert op.status is OperationStatus.SUCCEEDED and "renewalOperation" not in op.result
    assert after.status is CertificateStatus.REVOKED and after.current_revoked
    assert fakes.ctx.operations.list(target="shop", kind=OperationKind.REKEY.value) == []

    refused = answer(lambda: put_binding(fakes.ctx, BindingRequest(app="app2", hostname=HOST, link="shop-link")))
    assert isinstance(refused, BadRequest) and refused.code == "CertificateRevoked"
    assert fakes.ctx.bindings.find("app2", HOST) is None


def test_a_sync_never_moves_a_link_or_its_bindings_onto_a_revoked_version(fakes):
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link")
    set_auto_renew(fakes.ctx, "shop", False)
    start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    fakes.queue.messages.clear()  # the renewal runs by hand below, without its follow-up sync
    [renewal] = fakes.ctx.operations.list(target="shop", kind=OperationKind.RENEW.value)
    ENGINE.run(fakes.ctx, renewal.id)
    fakes.queue.messages.clear()
    renewed = fakes.ctx.certificates.get("shop")
    revoke(fakes, "shop", "keyCompromise")  # the new version, before any sync moved the link to it

    refused = answer(lambda: sync_link(fakes.ctx, "shop-link"))
    assert isinstance(refused, BadRequest) and refused.code == "CertificateRevoked"
    link = fakes.ctx.links.get("shop-link")
    assert link.thumbprint == cert.thumbprint and link.last_sync_error.startswith("CertificateRevoked")
    assert {b.thumbprint for b in fakes.ctx.bindings.for_link("shop-link")} == {cert.thumbprint}
    assert renewed.thumbprint != cert.thumbprint

    sync = start_certificate_sync(fakes.ctx, "shop")  # the batched path refuses as well
    drain(fakes)
    assert fakes.ctx.operations.get(sync.id).error_code == "SyncIncomplete"
    assert fakes.ctx.links.get("shop-link").thumbprint == cert.thumbprint


def test_bindings_lagging_a_link_that_holds_a_revoked_version_are_not_moved_onto_it(fakes):
    cert = issued(fakes, "shop")
    linked_and_bound(fakes, cert, "shop-link")
    set_auto_renew(fakes.ctx, "shop", False)
    [binding] = fakes.ctx.bindings.for_link("shop-link")
    binding.thumbprint = "AB" * 20  # a sync that moved the link, then stopped before its bindings
    fakes.ctx.bindings.save(binding)
    revoke(fakes, "shop", "keyCompromise")

    refused = answer(lambda: sync_link(fakes.ctx, "shop-link"))
    assert isinstance(refused, BadRequest) and refused.code == "CertificateRevoked"
    assert fakes.ctx.bindings.find("app1", HOST).thumbprint == "AB" * 20


def test_revoking_an_older_version_keeps_the_certificate_issued_and_renews_nothing(fakes):
    first = issued(fakes, "shop")
    start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    drain(fakes)
    op = revoke(fakes, "shop", "superseded", version=first.thumbprint.lower())

    after = fakes.ctx.certificates.get("shop")
    assert op.status is OperationStatus.SUCCEEDED and op.result["version"] == first.secret_version
    assert after.status is CertificateStatus.ISSUED and not after.current_revoked
    assert "renewalOperation" not in op.result
    assert crl_of(fakes).get_revoked_certificate_by_serial_number(int(first.serial, 16)) is not None
    assert crl_of(fakes).get_revoked_certificate_by_serial_number(int(after.serial, 16)) is None


def test_a_second_revoke_is_answered_as_already_revoked_without_a_second_renewal(fakes):
    cert = issued(fakes, "shop")
    set_auto_renew(fakes.ctx, "shop", False)
    first, second = revoke(fakes, "shop"), revoke(fakes, "shop")

    assert first.result["alreadyRevoked"] is False
    assert second.status is OperationStatus.SUCCEEDED and second.result["alreadyRevoked"] is True
    after = fakes.ctx.certificates.get("shop")
    assert len(after.revoked) == 1 and after.revoked[0].operation == first.id
    assert len(list(crl_of(fakes).__iter__())) == 1
    assert after.status is CertificateStatus.REVOKED and after.secret_version == cert.secret_version


def test_reasons_are_checked_against_the_issuer_before_anything_is_queued(fakes):
    issued(fakes, "shop")
    fake_acme = FakeAcmeIssuer(fakes.vault, utcnow)
    fakes.ctx._issuers["acme"] = fake_acme
    create_certificate(fakes.ctx, NewCertificate(name="web", hostnames=(HOST,), issuer="acme"))
    drain(fakes)
    queued = len(fakes.ctx.operations.list())

    for name, reason in (("web", "privilegeWithdrawn"), ("web", "affiliationChanged"), ("shop", "cACompromise"),
                         ("shop", "certificateHold"), ("shop", "compromised"), ("shop", 1)):
        refused = answer(lambda n=name, r=reason: start_revocation(fakes.ctx, n, r))
        assert isinstance(refused, BadRequest) and refused.code == "InvalidRevocationReason", (name, reason)
    assert "unspecified, keyCompromise, superseded, cessationOfOperation" in str(
        answer(lambda: start_revocation(fakes.ctx, "web", "privilegeWithdrawn"))
    )
    assert len(fakes.ctx.operations.list()) == queued
    assert revoke(fakes, "shop", "privilegeWithdrawn").status is OperationStatus.SUCCEEDED  # the local CA takes it
    op = revoke(fakes, "web", "cessationOfOperation")
    assert op.status is OperationStatus.SUCCEEDED
    assert list(fake_acme.revoked.values()) == [Reason.CESSATION_OF_OPERATION]


def test_unknown_version_never_issued_and_missing_certificate_are_refused(fakes):
    issued(fakes, "shop")
    missing = answer(lambda: start_revocation(fakes.ctx, "shop", "superseded", "0" * 32))
    assert isinstance(missing, NotFound) and missing.code == "VersionNotFound"
    bad = answer(lambda: start_revocation(fakes.ctx, "shop", "superseded", "../x"))
    assert isinstance(bad, BadRequest) and bad.code == "InvalidField"
    nobody = answer(lambda: start_revocation(fakes.ctx, "nope", "superseded"))
    assert isinstance(nobody, NotFound) and nobody.code == "CertificateNotFound"


def test_a_ca_that_refuses_leaves_the_certificate_as_it_was(fakes):
    fake_acme = FakeAcmeIssuer(fakes.vault, utcnow, refuse_revocations=1)
    fakes.ctx._issuers["acme"] = fake_acme
    create_certificate(fakes.ctx, NewCertificate(name="web", hostnames=(HOST,), issuer="acme"))
    drain(fakes)
    op = revoke(fakes, "web", "keyCompromise")

    after = fakes.ctx.certificates.get("web")
    assert op.status is OperationStatus.FAILED and op.error_code == "IssuerFailed"
    assert after.status is CertificateStatus.ISSUED and after.active_operation == "" and after.revoked == ()
    assert revoke(fakes, "web", "keyCompromise").status is OperationStatus.SUCCEEDED  # asking again works


def test_a_revoke_while_a_renewal_runs_is_refused_and_the_renewal_finishes(fakes):
    issued(fakes, "shop")
    renewal = start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    refused = answer(lambda: start_revocation(fakes.ctx, "shop", "keyCompromise"))
    assert isinstance(refused, Conflict) and refused.code == "OperationInProgress" and renewal.id in refused.message
    drain(fakes)
    assert fakes.ctx.operations.get(renewal.id).status is OperationStatus.SUCCEEDED
    assert fakes.ctx.certificates.get("shop").revoked == ()


def test_a_renewal_asked_while_a_revoke_runs_is_refused_and_the_revoke_renews_anyway(fakes):
    before = issued(fakes, "shop")
    revocation = start_revocation(fakes.ctx, "shop", "keyCompromise")
    refused = answer(lambda: start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {}))
    assert isinstance(refused, Conflict) and refused.code == "OperationInProgress"
    drain(fakes)
    after = fakes.ctx.certificates.get("shop")
    assert after.revoked[0].thumbprint == before.thumbprint and after.secret_version != before.secret_version
    assert after.status is CertificateStatus.ISSUED


def test_a_renewal_finishing_between_the_revoke_request_and_its_claim_revokes_what_was_asked_for(fakes):
    """The request resolves "current" to V1; a renewal records V2 before the revoke claims. The
    revoke revokes V1 (what its answer names), the certificate stays Issued on V2, no rekey."""
    before = issued(fakes, "shop")
    renewal = start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})

    def renewal_finishes(*_: object) -> None:
        drain(fakes)

    # the request's first read resolves the version; the renewal finishes before the claim's read
    fakes.hooks.on("after:certificates.get", lambda *_: fakes.hooks.on("before:certificates.get", renewal_finishes))
    op = start_revocation(fakes.ctx, "shop", "superseded")
    drain(fakes)

    done = fakes.ctx.operations.get(op.id)
    after = fakes.ctx.certificates.get("shop")
    assert fakes.ctx.operations.get(renewal.id).status is OperationStatus.SUCCEEDED
    assert done.result["version"] == before.secret_version and done.result["status"] == "Issued"
    assert after.secret_version != before.secret_version and after.status is CertificateStatus.ISSUED
    assert [r.version for r in after.revoked] == [before.secret_version]
    assert "renewalOperation" not in done.result


def test_a_redelivered_revoke_records_once_and_queues_one_renewal(fakes):
    issued(fakes, "shop")
    op = start_revocation(fakes.ctx, "shop", "keyCompromise")
    fakes.queue.messages.clear()  # delivered by hand: a crash, then the redelivery
    crashed: list[str] = []

    def crash(*args: object) -> None:
        crashed.append("once")
        raise RuntimeError("worker died after recording")

    fakes.hooks.on("before:operations.add", crash, when=lambda o: o.kind is OperationKind.REKEY)
    with pytest.raises(RuntimeError):
        ENGINE.run(fakes.ctx, op.id, delivery=1)
    ENGINE.run(fakes.ctx, op.id, delivery=2)
    drain(fakes)
    after = fakes.ctx.certificates.get("shop")
    assert crashed and len(after.revoked) == 1
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.SUCCEEDED
    rekeys = fakes.ctx.operations.list(target="shop", kind=OperationKind.REKEY.value)
    assert len(rekeys) == 1 and rekeys[0].status is OperationStatus.SUCCEEDED
    assert after.status is CertificateStatus.ISSUED


def test_a_renewal_after_a_key_compromise_never_reuses_the_key():
    fakes = fake_context(vault_clock=TickingClock(timedelta(seconds=1)))
    create_certificate(fakes.ctx, NewCertificate(name="shop", hostnames=(HOST,), key_type=pki.KeyType.EC256,
                                                 reuse_key=True))
    drain(fakes)
    first = fakes.ctx.certificates.get("shop")
    start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    drain(fakes)
    second = fakes.ctx.certificates.get("shop")
    assert key_of(fakes, second) == key_of(fakes, first)  # reuseKey keeps it...
    revoke(fakes, "shop", "keyCompromise", version=first.secret_version)  # ...an older version's key leaked
    start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    drain(fakes)
    third = fakes.ctx.certificates.get("shop")
    assert third.secret_version != second.secret_version and key_of(fakes, third) != key_of(fakes, second)


def test_the_revoked_event_is_sent_once():
    with webhook_receiver() as receiver:
        fakes = fake_context(WEBHOOK_URL=f"json+{receiver.base_url}/hook")
        cert = issued(fakes, "shop")
        revoke(fakes, "shop")
        revoke(fakes, "shop", version=cert.secret_version)
    kinds = Counter(r.body["type"] for r in receiver.accepted())
    assert kinds["certificate.revoked"] == 1 and kinds["certificate.rekeyed"] == 1
    sent = next(r.body for r in receiver.accepted() if r.body["type"] == "certificate.revoked")
    assert sent["data"]["serial"] == cert.serial and sent["data"]["reason"] == "keyCompromise"
    assert sent["data"]["current"] is True


def test_a_failed_renewal_after_a_revocation_rests_revoked_and_auto_renew_retries_with_a_new_key():
    fakes = fake_context(vault_clock=TickingClock(timedelta(seconds=1)), AUTO_RENEW_JITTER_SECONDS="0")
    create_certificate(fakes.ctx, NewCertificate(name="shop", hostnames=(HOST,), key_type=pki.KeyType.EC256,
                                                 reuse_key=True))
    drain(fakes)
    before = fakes.ctx.certificates.get("shop")
    refused = IssuerError("scripted: the CA is down for maintenance", code="IssuerFailed")
    fakes.hooks.on("before:vault.set_secret", lambda *_: (_ for _ in ()).throw(refused),
                   when=lambda name, *_: name == before.secret_name)
    op = revoke(fakes, "shop", "keyCompromise")
    rekey = fakes.ctx.operations.get(op.result["renewalOperation"])
    failed = fakes.ctx.certificates.get("shop")
    assert rekey.status is OperationStatus.FAILED
    assert failed.status is CertificateStatus.REVOKED and failed.failure_count == 1 and failed.renewal_due_at
    assert failed.secret_version == before.secret_version  # still serving the revoked version, and saying so

    report = run_auto_renew(fakes.ctx, now=failed.renewal_due_at + timedelta(minutes=1))
    drain(fakes)
    after = fakes.ctx.certificates.get("shop")
    assert report.started == ["shop"]
    assert after.status is CertificateStatus.ISSUED and after.secret_version != before.secret_version
    assert key_of(fakes, after) != key_of(fakes, before)  # reuseKey, yet never the revoked version's key
