"""Redelivery after a crash: the worker dies after Key Vault took the new version but before
the certificate row records it; the redelivered message adopts that version and never issues
a second certificate."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.issuers.base import IssuedCertificate, IssueRequest
from shared.lifecycle import NewCertificate, create_certificate, start_renewal
from shared.model import CertificateStatus, Operation, OperationKind, OperationStatus
from shared.pki import KeyType, parse_pfx_base64
from tests.fakes.context import Fakes, deliver_one, drain
from tests.service.conftest import WorkerCrashed, issued


def _count_issuance(fakes: Fakes) -> list[IssueRequest]:
    issuer = fakes.ctx.issuer("local")
    calls: list[IssueRequest] = []
    real: Callable[[IssueRequest], IssuedCertificate] = issuer.issue

    def counted(request: IssueRequest) -> IssuedCertificate:
        calls.append(request)
        return real(request)

    issuer.issue = counted  # type: ignore[method-assign]
    return calls


def _crash_at(fakes: Fakes, point: str, secret: str) -> None:
    def crash(*_: object) -> None:
        raise WorkerCrashed(point)

    fakes.hooks.on(point, crash, when=lambda name, *_: name == secret)


def _crash_when_recorded(fakes: Fakes) -> None:
    def crash(*_: object) -> None:
        raise WorkerCrashed("after the certificate row")

    fakes.hooks.on("after:certificates.save", crash, when=lambda cert: cert.status is CertificateStatus.ISSUED)


def _versions_by(fakes: Fakes, secret: str, op: Operation) -> list[str]:
    return [v.version for v in fakes.vault.list_versions(secret) if v.tags.get("operation") == op.id]


def _start(fakes: Fakes, kind: OperationKind) -> Operation:
    if kind is OperationKind.ISSUE:
        fakes.ctx.issuer("local")  # the CA exists before the crash is armed
        spec = NewCertificate(name="shop", hostnames=("www.example.com",), key_type=KeyType.EC256)
        return create_certificate(fakes.ctx, spec)
    issued(fakes, "shop")
    return start_renewal(fakes.ctx, "shop", kind, {})


@pytest.mark.parametrize("kind", [OperationKind.ISSUE, OperationKind.RENEW, OperationKind.REKEY])
def test_a_redelivery_adopts_the_version_written_before_the_crash(fakes: Fakes, kind: OperationKind) -> None:
    op = _start(fakes, kind)
    calls = _count_issuance(fakes)
    _crash_at(fakes, "after:vault.set_secret", "cert-shop")

    with pytest.raises(WorkerCrashed):
        deliver_one(fakes)
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.RUNNING
    assert len(fakes.queue.messages) == 1  # never completed: the host redelivers it

    drain(fakes)

    [written] = _versions_by(fakes, "cert-shop", op)
    cert = fakes.ctx.certificates.get("shop")
    assert len(calls) == 1, "the redelivery issued a second certificate"
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.SUCCEEDED
    assert (cert.secret_version, cert.status, cert.active_operation) == (written, CertificateStatus.ISSUED, "")
    assert cert.thumbprint == parse_pfx_base64(fakes.vault.get_secret("cert-shop", written).value or "").thumbprint


def test_a_redelivery_after_the_row_was_recorded_issues_nothing(fakes: Fakes) -> None:
    """The crash comes after the certificate row was written but before the operation record."""
    op = _start(fakes, OperationKind.RENEW)
    calls = _count_issuance(fakes)
    _crash_when_recorded(fakes)

    with pytest.raises(WorkerCrashed):
        deliver_one(fakes)
    recorded = fakes.ctx.certificates.get("shop")
    drain(fakes)

    assert len(calls) == 1
    assert _versions_by(fakes, "cert-shop", op) == [recorded.secret_version]
    assert fakes.ctx.certificates.get("shop").secret_version == recorded.secret_version
    assert fakes.ctx.operations.get(op.id).status is OperationStatus.SUCCEEDED
