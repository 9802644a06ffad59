"""The operation engine and the Key Vault size rule against the real emulators.

Regression tests: an operation whose kind has no handler used to stay Running forever; issue #11
defect 3 (a PFX over Key Vault's 25,600-character limit) used to be accepted, issued on each of
the five deliveries, refused each time as if Key Vault were down, and retried by auto-renew.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from shared.auto_renew import run_auto_renew
from shared.composition import build_engine, operation_handlers
from shared.errors import BadRequest, NotFound
from shared.issuers.base import IssuedCertificate, IssuerCapabilities, IssueRequest
from shared.lifecycle import NewCertificate, create_certificate
from shared.model import CertificateStatus, OperationKind, OperationStatus
from shared.operations import new_operation, submit
from shared.pki import KeyType
from shared.settings import SettingsError
from tests.integration.helpers import ENGINE


def long_hostnames(unique: str, count: int) -> tuple[str, ...]:
    """`count` hostnames of 253 characters (four labels of 60 plus the suffix)."""
    names = []
    for i in range(count):
        head = f"h{i:02d}{unique}"[:60].ljust(60, "a")
        names.append(".".join([head, "b" * 60, "c" * 60, "d" * 60]) + ".abcde.com")
    assert all(len(n) == 253 for n in names), [len(n) for n in names]
    return tuple(names)


def test_the_last_delivery_comes_from_host_json():
    assert ENGINE.last_delivery == 5  # host.json extensions.queues.maxDequeueCount
    # every kind that is queued has its handler; an export is recorded, never queued
    assert set(operation_handlers()) == set(OperationKind) - {OperationKind.EXPORT}


def test_host_json_without_max_dequeue_count_is_a_start_error(tmp_path):
    host_json = tmp_path / "host.json"
    host_json.write_text('{"version": "2.0", "extensions": {"queues": {}}}')
    with pytest.raises(SettingsError, match="maxDequeueCount"):
        build_engine(host_json)


def test_an_operation_without_a_handler_fails_as_an_operation(ctx, unique):
    # Exports run inline; one in the queue (an old message, a bug) has no handler.
    op = submit(ctx, new_operation(OperationKind.EXPORT, f"nohandler-{unique}", {}))
    finished = ENGINE.run(ctx, op.id, delivery=1)
    stored = ctx.operations.get(op.id)
    assert finished is not None and finished.status is OperationStatus.FAILED
    assert stored.status is OperationStatus.FAILED and stored.error_code == "NoHandler"
    assert "export" in stored.error_message


class OversizedChainIssuer:
    """The local CA, returning a chain far larger than it declares: the request-time check passes
    and Key Vault (the emulator, like the service) refuses the PFX with a 400."""

    name = "local"
    default_profile = ""

    def __init__(self, real) -> None:
        self.real = real
        self.capabilities = IssuerCapabilities(rekey_keeps_not_after=True, max_chain_der_bytes=1024)
        self.issued = 0

    def issue(self, request: IssueRequest) -> IssuedCertificate:
        self.issued += 1
        issued = self.real.issue(request)
        return replace(issued, chain=issued.chain * 20)


def test_a_pfx_key_vault_refuses_is_issued_once_and_never_retried(ctx, unique):
    issuer = OversizedChainIssuer(ctx.issuer("local"))
    ctx._issuers["local"] = issuer
    name = f"big-{unique}"
    op = create_certificate(ctx, NewCertificate(name=name, hostnames=(f"{name}.example.com",)))
    for delivery in range(1, ENGINE.last_delivery + 1):  # the host would deliver at most this often
        if ctx.operations.get(op.id).status is OperationStatus.FAILED:
            break
        ENGINE.run(ctx, op.id, delivery=delivery)
    failed = ctx.operations.get(op.id)
    cert = ctx.certificates.get(name)
    assert failed.status is OperationStatus.FAILED and failed.error_code == "KeyVaultRefused"
    assert "HTTP 400" in failed.error_message
    assert issuer.issued == 1  # not once per delivery
    assert cert.status is CertificateStatus.FAILED and cert.renewal_due_at is None
    assert cert.failure_count == 1 and "KeyVaultRefused" in cert.last_error
    report = run_auto_renew(ctx)
    assert name not in report.resumed and name not in report.started  # auto-renew does not try again
    assert issuer.issued == 1
    with pytest.raises(NotFound):
        ctx.vault.get_secret(cert.secret_name)  # nothing was stored


def test_a_certificate_that_cannot_fit_in_key_vault_is_refused_at_request_time(ctx, unique):
    name = f"huge-{unique}"
    spec = NewCertificate(name=name, hostnames=long_hostnames(unique[:6], 60), key_type=KeyType.RSA4096)
    with pytest.raises(BadRequest) as refused:
        create_certificate(ctx, spec)
    assert refused.value.status == 400 and refused.value.code == "CertificateTooLarge"
    with pytest.raises(NotFound):
        ctx.certificates.get(name)  # nothing recorded, nothing queued
    assert list(ctx.operations.list(target=name)) == []
