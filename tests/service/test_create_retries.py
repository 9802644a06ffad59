"""A first issuance cut short between the certificate row and its queue message (the instance
died): the client's retry of the same create answers with that issuance and gets it going, and
the next repair pass queues it again on its own; a different request for the name stays 409."""
from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from shared.clock import utcnow
from shared.errors import Conflict
from shared.lifecycle import NewCertificate, create_certificate
from shared.model import CertificateStatus, Operation, OperationKind, OperationStatus
from shared.operations import STRANDED_AFTER, repair_stranded
from shared.pki import KeyType
from shared.queueing import parse_message
from tests.fakes.context import Fakes, deliver_one, drain
from tests.service.conftest import HOST, WorkerCrashed, answer, issued

SPEC = NewCertificate(name="shop", hostnames=(HOST,), key_type=KeyType.EC256)
LATER = STRANDED_AFTER + timedelta(minutes=11)  # past the repair's bound with the default 300 s jitter


def _killed_after(fakes: Fakes, point: str) -> None:
    def kill(*_: object) -> None:
        raise WorkerCrashed(f"killed at {point}")

    fakes.hooks.on(point, kill)
    with contextlib.suppress(WorkerCrashed):
        create_certificate(fakes.ctx, SPEC)
    assert not fakes.queue.messages


def _queued_ids(fakes: Fakes) -> set[str]:
    return {parse_message(m.body) for m in fakes.queue.messages}


def test_a_retry_of_the_same_create_answers_with_the_stranded_issuance_and_runs_it(fakes: Fakes) -> None:
    _killed_after(fakes, "after:certificates.add")
    stranded = fakes.ctx.certificates.get("shop").active_operation

    retried = answer(lambda: create_certificate(fakes.ctx, SPEC))

    assert isinstance(retried, Operation) and retried.id == stranded
    assert _queued_ids(fakes) == {stranded}
    drain(fakes)
    assert fakes.ctx.certificates.get("shop").status is CertificateStatus.ISSUED
    assert [op.id for op in fakes.ctx.operations.list(target="shop")] == [stranded]


def test_the_next_repair_pass_queues_the_stranded_issuance(fakes: Fakes) -> None:
    _killed_after(fakes, "after:certificates.add")
    stranded = fakes.ctx.certificates.get("shop").active_operation

    repaired = repair_stranded(fakes.ctx, now=utcnow() + LATER)
    drain(fakes)

    assert repaired == {"requeued": [stranded], "abandoned": []}
    assert fakes.ctx.certificates.get("shop").status is CertificateStatus.ISSUED


def test_killed_before_the_certificate_row_a_retry_creates_it_and_the_left_record_fails_harmlessly(
    fakes: Fakes,
) -> None:
    _killed_after(fakes, "after:operations.add")
    [left] = fakes.ctx.operations.list(target="shop")

    retried = create_certificate(fakes.ctx, SPEC)
    drain(fakes)
    repair_stranded(fakes.ctx, now=utcnow() + LATER)
    drain(fakes)

    cert = fakes.ctx.certificates.get("shop")
    assert retried.id != left.id and cert.status is CertificateStatus.ISSUED
    assert fakes.ctx.operations.get(retried.id).status is OperationStatus.SUCCEEDED
    assert (fakes.ctx.operations.get(left.id).status, fakes.ctx.operations.get(left.id).error_code) == (
        OperationStatus.FAILED,
        "Superseded",
    )


def test_a_certificate_row_whose_record_was_never_written_gets_it_on_a_retry(fakes: Fakes) -> None:
    _killed_after(fakes, "after:certificates.add")
    stranded = fakes.ctx.certificates.get("shop").active_operation
    del fakes.operations.table.rows[("operation", stranded)]  # a row left by code that wrote the certificate first

    retried = create_certificate(fakes.ctx, SPEC)
    drain(fakes)

    assert retried.id == stranded and fakes.ctx.certificates.get("shop").status is CertificateStatus.ISSUED


def test_a_retry_after_the_first_issuance_failed_starts_it_again(fakes: Fakes) -> None:
    fakes.vault.down = True
    first = create_certificate(fakes.ctx, SPEC)
    deliver_one(fakes, max_attempts=1)  # the last delivery: the failure is recorded
    fakes.vault.down = False
    assert fakes.ctx.certificates.get("shop").status is CertificateStatus.FAILED

    retried = create_certificate(fakes.ctx, SPEC)
    drain(fakes)

    assert retried.id != first.id and retried.kind is OperationKind.ISSUE
    assert fakes.ctx.certificates.get("shop").status is CertificateStatus.ISSUED


@pytest.mark.parametrize(
    "other",
    [
        NewCertificate(name="shop", hostnames=("api.example.com",), key_type=KeyType.EC256),
        NewCertificate(name="shop", hostnames=(HOST,), key_type=KeyType.RSA2048),
        NewCertificate(name="shop", hostnames=(HOST,), key_type=KeyType.EC256, auto_renew=False),
    ],
)
def test_a_different_request_for_an_existing_name_is_409(fakes: Fakes, other: NewCertificate) -> None:
    _killed_after(fakes, "after:certificates.add")

    refused = answer(lambda: create_certificate(fakes.ctx, other))

    assert isinstance(refused, Conflict) and refused.code == "CertificateExists"
    assert not fakes.queue.messages and len(fakes.ctx.operations.list(target="shop")) == 1


def test_the_same_request_for_an_issued_certificate_is_409(fakes: Fakes) -> None:
    issued(fakes, "shop")

    refused = answer(lambda: create_certificate(fakes.ctx, SPEC))

    assert isinstance(refused, Conflict) and refused.code == "CertificateExists" and "issued" in refused.message
    assert len(fakes.ctx.operations.list(target="shop")) == 1
