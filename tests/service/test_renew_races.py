"""Renew vs renew: two requests race to claim one certificate; exactly one runs, the other is
told 409, and the certificate gets exactly one new version."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from shared.auto_renew import AutoRenewReport, run_auto_renew
from shared.clock import utcnow
from shared.errors import Conflict, PreconditionFailed
from shared.lifecycle import start_renewal
from shared.model import Certificate, CertificateStatus, Operation, OperationKind, OperationStatus

from tests.fakes.context import ENGINE, Fakes, drain
from tests.service.conftest import answer, issued


def _pause_first_claim_for(fakes: Fakes, second_kind: OperationKind, answers: list) -> None:
    """Pause the first claim between its read and its ETag write; run the second claim then."""

    def second(cert: Certificate) -> None:
        answers.append(answer(lambda: start_renewal(fakes.ctx, cert.name, second_kind, {})))

    claiming = (CertificateStatus.RENEWING, CertificateStatus.REKEYING)
    fakes.hooks.on("before:certificates.save", second, when=lambda c: c.status in claiming)


@pytest.mark.parametrize(
    "first_kind, second_kind", [(OperationKind.RENEW, OperationKind.RENEW), (OperationKind.RENEW, OperationKind.REKEY)]
)
def test_two_renewals_one_claims_the_other_gets_409(
    fakes: Fakes, first_kind: OperationKind, second_kind: OperationKind
) -> None:
    before = issued(fakes, "shop")
    answers: list = []
    _pause_first_claim_for(fakes, second_kind, answers)
    first = answer(lambda: start_renewal(fakes.ctx, "shop", first_kind, {}))
    second = answers[0]

    assert isinstance(second, Operation), second  # the paused one lost its ETag race...
    assert isinstance(first, Conflict) and first.code == "OperationInProgress"  # ...and says so truthfully
    assert second.id in first.message
    claimed = fakes.ctx.certificates.get("shop")
    assert claimed.active_operation == second.id
    assert len(fakes.queue.messages) == 1

    drain(fakes)
    after = fakes.ctx.certificates.get("shop")
    assert fakes.ctx.operations.get(second.id).status is OperationStatus.SUCCEEDED
    assert after.status is CertificateStatus.ISSUED and after.active_operation == ""
    assert after.secret_version != before.secret_version
    assert len(list(fakes.vault.list_versions(before.secret_name))) == 2  # the first issue and one renewal
    assert {o.id for o in fakes.ctx.operations.list(target="shop")} == {before_op(fakes), second.id}  # none refused


def before_op(fakes: Fakes) -> str:
    [issue] = fakes.ctx.operations.list(target="shop", kind=OperationKind.ISSUE.value)
    return issue.id


def test_a_renewal_after_the_winner_finished_is_accepted(fakes: Fakes) -> None:
    issued(fakes, "shop")
    start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    with pytest.raises(Conflict):
        start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    drain(fakes)
    again = start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    drain(fakes)
    assert fakes.ctx.operations.get(again.id).status is OperationStatus.SUCCEEDED
    assert len(list(fakes.vault.list_versions("cert-shop"))) == 3


def _due(fakes: Fakes, name: str) -> None:
    cert = fakes.ctx.certificates.get(name)
    cert.renewal_due_at = utcnow() - timedelta(minutes=1)
    fakes.ctx.certificates.save(cert)


def test_auto_renew_and_a_manual_renewal_claim_once(fakes: Fakes) -> None:
    issued(fakes, "shop")
    _due(fakes, "shop")
    runs: list[AutoRenewReport] = []
    claiming = (CertificateStatus.RENEWING,)
    fakes.hooks.on(
        "before:certificates.save",
        lambda *_: runs.append(run_auto_renew(fakes.ctx, rng=random.Random(1))),
        when=lambda c: c.status in claiming,
    )

    manual = answer(lambda: start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {}))

    assert runs[0].started == ["shop"]
    assert isinstance(manual, Conflict) and manual.code == "OperationInProgress"
    assert len(fakes.queue.messages) == 1


def test_two_auto_renew_runs_start_one_renewal(fakes: Fakes) -> None:
    issued(fakes, "shop")
    _due(fakes, "shop")
    runs: list[AutoRenewReport] = []
    fakes.hooks.on(
        "before:certificates.save",
        lambda *_: runs.append(run_auto_renew(fakes.ctx, rng=random.Random(2))),
        when=lambda c: c.status is CertificateStatus.RENEWING,
    )

    first = run_auto_renew(fakes.ctx, rng=random.Random(3))

    assert runs[0].started == ["shop"]
    assert first.started == [] and first.errors == {"shop": "OperationInProgress"}
    assert len(fakes.queue.messages) == 1
    drain(fakes)
    assert len(list(fakes.vault.list_versions("cert-shop"))) == 2


def test_a_renewal_whose_claim_was_taken_over_never_records_over_the_newer_version(fakes: Fakes) -> None:
    """A renewal that looked dead (no progress for 15 minutes) is taken over; the new renewal
    writes and records a newer version; when the old one finally records, it must not put its
    older version back on the certificate (the Key Vault latest would then differ from it)."""
    before = issued(fakes, "shop")
    first = start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
    message = fakes.queue.receive(ignore_delay=True)
    assert message is not None
    taken: list[Operation] = []

    def take_over(cert: Certificate) -> None:
        stale = fakes.ctx.operations.get(first.id)
        stale.updated_at = stale.created_at = utcnow() - timedelta(minutes=20)
        fakes.ctx.operations.save(stale)
        taken.append(start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {}))
        drain(fakes)

    fakes.hooks.on(
        "before:certificates.save", take_over,
        when=lambda c: c.active_operation == "" and c.secret_version != before.secret_version,
    )  # fmt: skip
    with pytest.raises(PreconditionFailed):  # its own record was closed by the takeover: the host redelivers
        ENGINE.run(fakes.ctx, first.id, delivery=1)

    after = fakes.ctx.certificates.get("shop")
    latest = fakes.vault.get_secret(before.secret_name)
    assert taken and fakes.ctx.operations.get(taken[0].id).status is OperationStatus.SUCCEEDED
    assert after.secret_version == latest.version  # the newer renewal's version stays recorded
    assert len(list(fakes.vault.list_versions(before.secret_name))) == 3
