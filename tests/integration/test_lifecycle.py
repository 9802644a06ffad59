"""Renew, rekey and auto-renew against the real emulators (local CA issuer)."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from shared import pki
from shared.auto_renew import run_auto_renew
from shared.clock import utcnow
from shared.errors import Conflict, IssuerError, NotFound
from shared.lifecycle import NewCertificate, create_certificate, start_renewal
from shared.model import CertificateStatus, OperationKind, OperationStatus
from shared.secret_refs import certificate_at
from tests.integration.helpers import ENGINE, drain, issued


def held_key(ctx, cert):
    return certificate_at(ctx.vault, cert.secret_name, cert.secret_version).bundle.private_key


def renew(ctx, name, kind=OperationKind.RENEW, params=None):
    op = start_renewal(ctx, name, kind, params or {})
    drain(ctx)
    return ctx.operations.get(op.id)


def test_renew_writes_a_new_version_with_a_new_key_and_keeps_the_old(ctx, unique, secret_client):
    before = issued(ctx, f"r-{unique}", [f"r-{unique}.example.com"])
    op = renew(ctx, before.name)
    after = ctx.certificates.get(before.name)
    assert op.status is OperationStatus.SUCCEEDED and after.status is CertificateStatus.ISSUED
    assert after.secret_version != before.secret_version and after.thumbprint != before.thumbprint
    assert not pki.key_matches(held_key(ctx, after), certificate_at(ctx.vault, before.secret_name, before.secret_version).bundle.certificate)
    versions = {p.version for p in secret_client.list_properties_of_secret_versions(before.secret_name)}
    assert {before.secret_version, after.secret_version} <= versions  # the old version stays
    assert certificate_at(ctx.vault, before.secret_name, before.secret_version).thumbprint == before.thumbprint


def test_reuse_key_is_opt_in(ctx, unique):
    before = issued(ctx, f"k-{unique}", [f"k-{unique}.example.com"], reuse_key=True)
    renew(ctx, before.name)
    after = ctx.certificates.get(before.name)
    assert after.thumbprint != before.thumbprint
    assert pki.key_matches(held_key(ctx, before), certificate_at(ctx.vault, after.secret_name, after.secret_version).bundle.certificate)


def test_rekey_with_local_ca_keeps_not_after_and_can_change_key_type(ctx, unique):
    before = issued(ctx, f"x-{unique}", [f"x-{unique}.example.com"], validity_days=30)
    op = renew(ctx, before.name, OperationKind.REKEY, {"keyType": "EC384"})
    after = ctx.certificates.get(before.name)
    assert op.status is OperationStatus.SUCCEEDED
    assert after.not_after == before.not_after and after.key_type == "EC384"
    assert pki.key_type_of(held_key(ctx, after)) is pki.KeyType.EC384


def test_renew_refusals(ctx, unique):
    with pytest.raises(NotFound):
        start_renewal(ctx, f"nothing-{unique}", OperationKind.RENEW, {})
    pending = create_certificate(ctx, NewCertificate(name=f"p-{unique}", hostnames=(f"p-{unique}.example.com",)))
    with pytest.raises(Conflict) as never:
        start_renewal(ctx, f"p-{unique}", OperationKind.RENEW, {})
    assert never.value.code == "NotIssued"
    drain(ctx)
    assert ctx.operations.get(pending.id).status is OperationStatus.SUCCEEDED
    start_renewal(ctx, f"p-{unique}", OperationKind.RENEW, {})
    with pytest.raises(Conflict) as busy:
        start_renewal(ctx, f"p-{unique}", OperationKind.REKEY, {})
    assert busy.value.code == "OperationInProgress"


class BrokenIssuer:
    name = "local"

    def issue(self, request):
        raise IssuerError("the CA is down for maintenance", code="IssuerUnreachable")


def test_failed_renewal_keeps_the_old_version_and_backs_off(ctx, unique):
    before = issued(ctx, f"f-{unique}", [f"f-{unique}.example.com"])
    ctx._issuers["local"] = BrokenIssuer()
    op = renew(ctx, before.name)
    after = ctx.certificates.get(before.name)
    assert op.status is OperationStatus.FAILED and op.error_code == "IssuerUnreachable"
    assert "down for maintenance" in op.error_message
    assert after.status is CertificateStatus.ISSUED and after.secret_version == before.secret_version
    assert after.failure_count == 1 and "IssuerUnreachable" in after.last_error
    assert timedelta(minutes=59) < after.renewal_due_at - utcnow() <= timedelta(hours=1)
    assert ctx.vault.get_secret(before.secret_name).version == before.secret_version


def test_a_crash_after_writing_the_version_is_adopted_not_reissued(ctx, unique, secret_client):
    before = issued(ctx, f"c-{unique}", [f"c-{unique}.example.com"])
    op = start_renewal(ctx, before.name, OperationKind.RENEW, {})
    # Simulate the worker dying right after Key Vault accepted the new version.
    from shared.lifecycle import _issue

    version, bundle = _issue(ctx, ctx.certificates.get(before.name), ctx.operations.get(op.id))
    assert ctx.certificates.get(before.name).secret_version == before.secret_version
    drain(ctx)  # the redelivered message finishes the job
    after = ctx.certificates.get(before.name)
    assert after.secret_version == version.version and after.thumbprint == bundle.thumbprint
    assert len(list(secret_client.list_properties_of_secret_versions(before.secret_name))) == 2


def test_auto_renew_renews_exactly_the_due_certificates(make_ctx, unique):
    ctx = make_ctx()
    names = {kind: f"{kind}-{unique}" for kind in ("due", "due2", "later", "off", "failing", "expired")}
    certs = {kind: issued(ctx, name, [f"{name}.example.com"]) for kind, name in names.items()}
    now = utcnow()

    def set_fields(kind, **fields):
        cert = ctx.certificates.get(names[kind])
        for key, value in fields.items():
            setattr(cert, key, value)
        ctx.certificates.save(cert)

    for kind in ("due", "due2", "failing"):
        set_fields(kind, renewal_due_at=now - timedelta(minutes=1))
    set_fields("off", renewal_due_at=now - timedelta(minutes=1), auto_renew=False)
    set_fields("expired", renewal_due_at=now - timedelta(days=1), not_after=now - timedelta(hours=1))
    set_fields("failing", issuer="acme")  # ACME_DIRECTORY_URL points at a closed port below
    ctx._issuers["acme"] = BrokenIssuer()

    report = run_auto_renew(ctx, rng=random.Random(1))
    assert sorted(report.started) == sorted(names[k] for k in ("due", "due2", "failing", "expired"))
    assert report.expired == [names["expired"]]
    drain(ctx)
    for kind in ("due", "due2", "expired"):
        after = ctx.certificates.get(names[kind])
        assert after.secret_version != certs[kind].secret_version, kind
        assert after.status is CertificateStatus.ISSUED and after.renewal_due_at > now
    failing = ctx.certificates.get(names["failing"])
    assert failing.secret_version == certs["failing"].secret_version and failing.failure_count == 1
    assert failing.renewal_due_at > now + timedelta(minutes=59)
    for kind in ("later", "off"):
        assert ctx.certificates.get(names[kind]).secret_version == certs[kind].secret_version, kind
    again = run_auto_renew(ctx)
    assert again.started == []  # the failing one waits for its backoff


def test_auto_renew_with_nothing_due_makes_no_key_vault_calls(make_ctx, unique, storage_and_vault):
    import requests

    ctx = make_ctx()
    issued(ctx, f"quiet-{unique}", [f"quiet-{unique}.example.com"])
    _, vault_url, cert, _ = storage_and_vault
    before = requests.get(f"{vault_url}/_emulator/counters", verify=str(cert), timeout=5).json()
    report = run_auto_renew(ctx)
    after = requests.get(f"{vault_url}/_emulator/counters", verify=str(cert), timeout=5).json()
    assert report.checked == 1 and report.started == []
    assert before["total"] > 0  # the counters do count (the issuance above)
    assert after == before


def test_a_first_issuance_whose_message_was_lost_is_resumed_by_auto_renew(ctx, unique):
    from shared.certificate_states import STALE_AFTER

    op = create_certificate(ctx, NewCertificate(name=f"lost-{unique}", hostnames=(f"lost-{unique}.example.com",)))
    ctx.queue.client.clear_messages()  # the message never reaches a worker
    assert run_auto_renew(ctx).resumed == []  # still fresh: someone may be working on it
    stale = ctx.operations.get(op.id)
    stale.updated_at = utcnow() - STALE_AFTER - timedelta(minutes=1)
    ctx.operations.save(stale)
    report = run_auto_renew(ctx)
    assert report.resumed == [f"lost-{unique}"]
    drain(ctx)
    cert = ctx.certificates.get(f"lost-{unique}")
    assert cert.status is CertificateStatus.ISSUED and cert.thumbprint


@pytest.mark.parametrize("auto_sync", ["true", "false"])
def test_a_renewal_reaches_every_binding_unless_sync_is_manual(make_ctx, unique, auto_sync):
    from shared.overview import certificate_overview
    from tests.integration.helpers import linked_and_bound

    ctx = make_ctx(AUTO_SYNC_AFTER_RENEWAL=auto_sync)
    before = issued(ctx, f"s-{unique}", [f"s-{unique}.example.com", f"*.s-{unique}.example.com"])
    linked_and_bound(ctx, before, f"s-{unique}-a", [("web", f"s-{unique}.example.com")])
    linked_and_bound(ctx, before, f"s-{unique}-b", [("api", f"api.s-{unique}.example.com"), ("app", f"app.s-{unique}.example.com")])
    renew(ctx, before.name)  # drains the renewal and, when automatic, the sync it queues
    after = ctx.certificates.get(before.name)
    held = {b.thumbprint for link in (f"s-{unique}-a", f"s-{unique}-b") for b in ctx.bindings.for_link(link)}
    if auto_sync == "true":
        assert held == {after.thumbprint}
        assert not certificate_overview(ctx, before.name).sync_available
    else:
        assert held == {before.thumbprint}  # bindings keep working on the old version until a person syncs
        assert certificate_overview(ctx, before.name).sync_available


def test_a_redelivered_message_after_success_never_issues_again(ctx, unique, secret_client):
    before = issued(ctx, f"twice-{unique}", [f"twice-{unique}.example.com"])
    op = renew(ctx, before.name)
    assert op.status is OperationStatus.SUCCEEDED
    op.status = OperationStatus.RUNNING  # as if the final save of the record had failed
    ctx.operations.save(op)
    again = ENGINE.run(ctx, op.id)
    assert again.status is OperationStatus.SUCCEEDED and again.result["version"] == op.result["version"]
    assert len(list(secret_client.list_properties_of_secret_versions(before.secret_name))) == 2


class VaultOutageIssuer:
    name = "local"

    def issue(self, request):
        from shared.errors import DependencyError

        raise DependencyError("Key Vault unreachable while writing", code="DependencyUnavailable")


def test_an_outage_keeps_the_claim_until_the_last_delivery(ctx, unique):
    from shared.errors import DependencyError

    before = issued(ctx, f"outage-{unique}", [f"outage-{unique}.example.com"])
    ctx._issuers["local"] = VaultOutageIssuer()
    op = start_renewal(ctx, before.name, OperationKind.RENEW, {})
    with pytest.raises(DependencyError):
        ENGINE.run(ctx, op.id, delivery=1)  # the host will redeliver
    held = ctx.certificates.get(before.name)
    assert held.status is CertificateStatus.RENEWING and held.active_operation == op.id and held.failure_count == 0
    with pytest.raises(Conflict):
        start_renewal(ctx, before.name, OperationKind.RENEW, {})  # still claimed: no second renewal
    final = ENGINE.run(ctx, op.id, delivery=ENGINE.last_delivery)
    after = ctx.certificates.get(before.name)
    assert final.status is OperationStatus.FAILED and final.error_code == "DependencyUnavailable"
    assert after.status is CertificateStatus.ISSUED and after.active_operation == "" and after.failure_count == 1
    assert after.secret_version == before.secret_version
