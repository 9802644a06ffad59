"""Certificate lifecycle: create, issue, renew, rekey (the use cases; the status rules are
in shared.certificate_states).

Issuing writes the PFX as a new version of the certificate's Key Vault secret, then records it
on the certificate row. A crash between the two is repaired by the next attempt, which adopts
the version this operation already wrote (tagged with its id) instead of issuing again. After a
new version, lifecycle asks sync to move the links and bindings that use it (lifecycle builds
on sync, not the reverse).
"""
from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import timedelta

from shared import pki, renewal
from shared.app_context import AppContext
from shared.certificate_states import BUSY, STALE_AFTER, Event, after_failure, claim_event, facts_of, transition
from shared.clock import from_iso, to_iso, utcnow
from shared.errors import BadRequest, CertsyncError, Conflict, NotFound, Retry, classify
from shared.hostnames import normalize_hostnames
from shared.issuers.base import IssueRequest
from shared.links import links_of_certificate
from shared.model import Certificate, CertificateStatus, Operation, OperationKind, validate_name
from shared.notify.events import ISSUANCE_EVENTS, EventType, operation_event, record
from shared.operations import (
    abandon,
    enqueue_if_queued,
    is_active,
    new_operation,
    operation_age,
    submit,
    submit_once,
)
from shared.pfx_size import check_fits_in_key_vault
from shared.revocation import may_reuse_key
from shared.sync.handlers import after_new_version
from shared.tables import retry_lost_races, retry_on_conflict
from shared.vault import PFX_CONTENT_TYPE, SecretVersion

log = logging.getLogger("certsync.lifecycle")
SECRET_PREFIX = "cert-"


@dataclass(frozen=True)
class NewCertificate:
    name: str
    hostnames: tuple[str, ...]
    key_type: pki.KeyType = pki.KeyType.RSA2048
    issuer: str = "local"
    auto_renew: bool = True
    validity_days: int | None = None
    reuse_key: bool = False
    renew_before_days: int | None = None
    profile: str = ""  # "" = the issuer's default profile (ACME_PROFILE), if any
    vault: str = ""  # URL or short name of a configured vault; "" = the default (KEY_VAULT_URL)


def secret_name_for(cert_name: str) -> str:
    return f"{SECRET_PREFIX}{cert_name}"


def create_certificate(ctx: AppContext, spec: NewCertificate, requested_by: str = "") -> Operation:
    validate_name(spec.name, "certificate name")
    hostnames = normalize_hostnames(spec.hostnames)
    vault = ctx.choose_vault(spec.vault)
    issuer = ctx.issuer(spec.issuer)  # unknown or unconfigured issuer: 400 now, not a failed operation later
    check_fits_in_key_vault(spec.key_type, hostnames, issuer.capabilities.max_chain_der_bytes)
    if spec.validity_days is not None and not 1 <= spec.validity_days <= 397:
        raise BadRequest("validityDays must be between 1 and 397", code="InvalidValidity")
    if spec.renew_before_days is not None and not 1 <= spec.renew_before_days <= 396:
        raise BadRequest("renewBeforeDays must be between 1 and 396", code="InvalidField")
    profile = spec.profile or issuer.default_profile
    if profile:
        issuer.check_profile(profile)  # an unknown profile: 400 now, not a failed order later
    op = new_operation(OperationKind.ISSUE, spec.name, {"hostnames": list(hostnames)}, requested_by)
    cert = Certificate(
        name=spec.name,
        hostnames=hostnames,
        key_type=spec.key_type.value,
        issuer=spec.issuer,
        auto_renew=spec.auto_renew,
        validity_days=spec.validity_days,
        reuse_key=spec.reuse_key,
        renew_before_days=spec.renew_before_days,
        profile=profile,
        vault=vault.url,
        secret_name=secret_name_for(spec.name),
        active_operation=op.id,
        created_at=op.created_at,
    )
    # The record first: a crash after the certificate row leaves a Queued operation the repair finds. The
    # insert is the uniqueness check; names are certsync's key, unique across every vault.
    try:
        return submit(ctx, op, write_target=lambda: ctx.certificates.add(cert))
    except Conflict as err:
        if err.code != "AlreadyExists":
            raise
    return _create_again(ctx, cert, requested_by)


def _create_again(ctx: AppContext, wanted: Certificate, requested_by: str) -> Operation:
    """A create of a name that exists. The same request again (a client's retry after a timeout
    or a crash) answers with its first issuance, and gets it going if nothing carries it; a
    different request, or one whose certificate was issued already, is 409."""
    exists = Conflict(f"certificate {wanted.name} already exists", code="CertificateExists")
    existing = ctx.certificates.find(wanted.name)
    if existing is None or _request_of(ctx, existing) != _request_of(ctx, wanted):
        raise exists
    if existing.has_been_issued:
        raise Conflict(f"certificate {wanted.name} already exists and has been issued", code="CertificateExists")
    if existing.active_operation:
        try:
            op = ctx.operations.get(existing.active_operation)
        except NotFound:  # its record never written (a row from before records came first): write it now
            lost = new_operation(OperationKind.ISSUE, wanted.name, {"hostnames": list(wanted.hostnames)}, requested_by)
            return submit_once(ctx, replace(lost, id=existing.active_operation))
        if is_active(op):
            return enqueue_if_queued(ctx, op)
    return resume_issuance(ctx, wanted.name, {"trigger": "create", "resumed": True}, requested_by)


def _request_of(ctx: AppContext, cert: Certificate) -> tuple:
    """What a create request decides about a certificate (compared to tell a retry from another request)."""
    return (cert.hostnames, cert.key_type, cert.issuer, cert.auto_renew, cert.validity_days, cert.reuse_key,
            cert.renew_before_days, cert.profile, ctx.secret_of(cert).vault_url)


def resume_issuance(ctx: AppContext, name: str, parameters: dict, requested_by: str) -> Operation:
    """Start a never-issued certificate's first issuance again (stalled or failed), taking over
    the claim of an operation that stopped making progress."""
    op = new_operation(OperationKind.ISSUE, name, parameters, requested_by)
    previous: list[str] = []

    def claim() -> None:
        cert = ctx.certificates.get(name)
        alive = not cert.has_been_issued and claim_held(ctx, cert)
        try:
            cert.status = transition(cert.status, Event.RESUME, facts_of(cert, utcnow(), alive))
        except Conflict as err:
            raise Conflict(f"certificate {name}: {err.message}", code=err.code) from None
        previous[:] = [cert.active_operation] if cert.active_operation else []
        cert.active_operation = op.id
        ctx.certificates.save(cert)

    retry_on_conflict(claim)
    for old in previous:
        abandon(ctx, old, f"taken over by operation {op.id} after it stopped making progress")
    return submit(ctx, op)


def start_renewal(
    ctx: AppContext, name: str, kind: OperationKind, parameters: dict, requested_by: str = "", delay_seconds: int = 0
) -> Operation:
    """Claim the certificate for one renew, rekey or revoke (409 while another runs), then enqueue it."""
    op = new_operation(kind, name, parameters, requested_by)
    taken_over: list[str] = []

    def claim() -> None:
        taken_over.clear()
        cert = ctx.certificates.get(name)
        if parameters.get("keyType"):  # a rekey to another key type: will its PFX still fit?
            chain = ctx.issuer(cert.issuer).capabilities.max_chain_der_bytes
            check_fits_in_key_vault(pki.KeyType(parameters["keyType"]), cert.hostnames, chain)
        cert.status = _claimed_status(cert, kind, cert.status in BUSY and claim_held(ctx, cert))
        taken_over.extend([cert.active_operation] if cert.active_operation else [])
        cert.active_operation = op.id
        ctx.certificates.save(cert)

    try:
        retry_on_conflict(claim)
    except NotFound:
        raise NotFound(f"certificate {name} was not found", code="CertificateNotFound") from None
    for old in taken_over:
        abandon(ctx, old, f"taken over by operation {op.id} after it stopped making progress")
    try:
        return submit(ctx, op, delay_seconds)
    except CertsyncError:
        _release_claim(ctx, name, op.id)
        raise


def _claimed_status(cert: Certificate, kind: OperationKind, claim_alive: bool) -> CertificateStatus:
    """The state machine's answer to a renew/rekey claim, or 409 naming the certificate."""
    try:
        return transition(cert.status, claim_event(kind), facts_of(cert, utcnow(), claim_alive))
    except Conflict as err:
        busy = f" ({cert.active_operation})" if err.code == "OperationInProgress" else ""
        raise Conflict(f"certificate {cert.name}: {err.message}{busy}", code=err.code) from None


def _release_claim(ctx: AppContext, name: str, op_id: str) -> None:
    """The operation never reached the queue: give the certificate back its resting status."""

    def apply() -> None:
        cert = ctx.certificates.get(name)
        if cert.active_operation == op_id:
            cert.status = transition(cert.status, Event.RELEASED, facts_of(cert, utcnow()))
            cert.active_operation = ""
            ctx.certificates.save(cert)

    with suppress(CertsyncError):  # else the claim goes stale after STALE_AFTER and is taken over then
        retry_on_conflict(apply)


def claim_held(ctx: AppContext, cert: Certificate) -> bool:
    """Does the certificate's active operation still hold its claim (shared.certificate_states
    decides when a claim is stale)?"""
    return bool(cert.active_operation) and operation_running(ctx, cert.active_operation)


def operation_running(ctx: AppContext, op_id: str) -> bool:
    """Is this operation still alive? An unreadable record counts as alive (never steal on doubt)."""
    try:
        return is_active(ctx.operations.get(op_id))
    except NotFound:
        return operation_age(op_id) < STALE_AFTER  # claimed a moment ago, its record not written yet
    except CertsyncError:
        return True


def set_auto_renew(ctx: AppContext, name: str, auto_renew: bool) -> Certificate:
    def apply() -> Certificate:
        cert = ctx.certificates.get(name)
        cert.auto_renew = auto_renew
        return ctx.certificates.save(cert)

    return retry_on_conflict(apply)


def delete_certificate(ctx: AppContext, name: str) -> None:
    """Removes the record only: the Key Vault secret and its versions are kept (nothing lost).

    The delete carries the ETag of the read the link check was made on; a link created meanwhile
    touches the certificate row after its index row exists (links.create_link), so the delete
    loses its race, reads again and refuses."""

    def attempt() -> None:
        cert = ctx.certificates.get(name)
        links = links_of_certificate(ctx, cert)
        if links:
            names = ", ".join(link.name for link in links[:5])
            raise Conflict(
                f"certificate {name} is referenced by {len(links)} linked certificate(s): {names}",
                code="CertificateInUse",
            )
        ctx.certificates.delete(cert)  # a link added since our read touched the certificate: look again

    retry_lost_races(attempt, f"certificate {name}")


def superseded(cert: Certificate) -> Conflict:
    """What an operation meets when its certificate's claim has moved on to another operation."""
    return Conflict(f"operation {cert.active_operation or 'none'} owns certificate {cert.name} now", code="Superseded")


def run_issuance(ctx: AppContext, op: Operation) -> dict:
    """The handler of issue, renew and rekey operations (registered by the composition root)."""
    cert = ctx.certificates.get(op.target)
    try:
        written = _version_written_by(ctx, cert, op.id)
        if written is None and cert.active_operation != op.id:
            raise superseded(cert)
        version, bundle = _adopt(written, op) if written else _issue(ctx, cert, op)
    except Exception as err:
        # An outage goes back to the host with the claim kept; the failure is recorded (claim
        # released, backoff set) only when it is final. shared.errors.classify decides which.
        retry = classify(err)
        taken_over = isinstance(err, Conflict) and err.code == "Superseded"
        if (op.final_attempt or retry is not Retry.REDELIVER) and not taken_over:
            _record_failure(ctx, op, _as_certsync_error(err), retry)
        raise
    cert = _record_success(ctx, op, version, bundle)
    try:
        synced = after_new_version(ctx, cert, op.id)
    except CertsyncError as err:  # the renewal itself succeeded; the sweep will sync the links
        synced = {"syncWarning": f"{err.code}: {err.message}"}
    return {"thumbprint": bundle.thumbprint, "version": version.version, "notAfter": to_iso(bundle.not_after), **synced}


def _as_certsync_error(err: Exception) -> CertsyncError:
    return err if isinstance(err, CertsyncError) else CertsyncError("unexpected error", code="InternalError")


def _adopt(written: SecretVersion, op: Operation) -> tuple[SecretVersion, pki.CertificateBundle]:
    log.info("operation %s adopts version %s it wrote before a restart", op.id, written.version)
    return written, pki.parse_pfx_base64(written.value or "")


def _issue(ctx: AppContext, cert: Certificate, op: Operation) -> tuple[SecretVersion, pki.CertificateBundle]:
    key = _key_for(ctx, cert, op)
    issuer = ctx.issuer(cert.issuer)
    not_after = None
    keeps_expiry = op.kind is OperationKind.REKEY and issuer.capabilities.rekey_keeps_not_after
    if keeps_expiry and not renewal.is_due(cert.renewal_due_at, utcnow()):
        not_after = cert.not_after  # rekey keeps the expiry, unless renewal is due anyway: then a full lifetime
    csr = pki.build_csr(key, cert.hostnames)  # the issuer gets what it signs, never the private key
    request = IssueRequest(
        hostnames=cert.hostnames,
        csr=csr,
        validity_days=cert.validity_days,
        not_after=not_after,
        profile=cert.profile,
        replaces=cert.ari_id if op.kind is not OperationKind.ISSUE else "",
    )
    issued = issuer.issue(request)
    bundle = pki.CertificateBundle(private_key=key, certificate=issued.certificate, chain=issued.chain)
    if issued.renewal_window:
        op.result["renewalWindow"] = [to_iso(t) for t in issued.renewal_window]
    if issued.ari_id:
        op.result["ariId"] = issued.ari_id
    version = ctx.vault_of(cert).set_secret(
        cert.secret_name,
        pki.to_pfx_base64(bundle, friendly_name=cert.name),
        content_type=PFX_CONTENT_TYPE,
        tags={
            "certificate": cert.name,
            "thumbprint": bundle.thumbprint,
            "notAfter": to_iso(bundle.not_after) or "",
            "operation": op.id,
        },
        not_before=bundle.not_before,
        expires_on=bundle.not_after,
    )
    return version, bundle


def _version_written_by(ctx: AppContext, cert: Certificate, op_id: str) -> SecretVersion | None:
    """The version this operation already wrote, if any, recorded or not, latest or not (tags
    are in the version list's metadata): a redelivered message must never issue twice."""
    try:
        mine = [v for v in ctx.vault_of(cert).list_versions(cert.secret_name) if v.tags.get("operation") == op_id]
    except NotFound:
        return None
    if not mine:
        return None
    return ctx.vault_of(cert).get_secret(cert.secret_name, mine[0].version)


def _still_latest(ctx: AppContext, cert: Certificate, version: SecretVersion) -> bool:
    """Whether `version` is still the secret's latest: an operation that lost its claim while it
    ran must not record its version over one a later operation wrote and recorded."""
    if cert.secret_version == version.version:
        return True
    return ctx.vault_of(cert).get_secret(cert.secret_name).version == version.version


def _key_for(ctx: AppContext, cert: Certificate, op: Operation):
    key_type = pki.KeyType(op.parameters.get("keyType") or cert.key_type)
    if op.kind is OperationKind.RENEW and may_reuse_key(cert) and cert.secret_version:
        current = ctx.vault_of(cert).get_secret(cert.secret_name, cert.secret_version)
        return pki.parse_pfx_base64(current.value or "").private_key
    return pki.generate_private_key(key_type)


def _record_success(
    ctx: AppContext, op: Operation, version: SecretVersion, bundle: pki.CertificateBundle
) -> Certificate:
    window = op.result.get("renewalWindow")

    def apply() -> Certificate:
        cert = ctx.certificates.get(op.target)
        if cert.active_operation not in (op.id, ""):
            log.info("operation %s finished after %s took over; its version stays", op.id, cert.active_operation)
            return cert  # the newer claim records its own, newer version
        if cert.active_operation == "" and cert.secret_version and not _still_latest(ctx, cert, version):
            # taken over and the newer operation already recorded a version written after ours
            log.info("operation %s finished after a newer version was recorded; its version stays", op.id)
            return cert
        cert.secret_version, cert.secret_updated_on = version.version, version.updated_on
        cert.thumbprint, cert.sha256 = bundle.thumbprint, pki.sha256_fingerprint(bundle.certificate)
        cert.serial = bundle.serial
        cert.not_before, cert.not_after = bundle.not_before, bundle.not_after
        if op.kind is OperationKind.REKEY and op.parameters.get("keyType"):
            cert.key_type = op.parameters["keyType"]
        ari = (from_iso(window[0]), from_iso(window[1])) if window else None
        cert.renewal_due_at = renewal.renewal_due_at(
            bundle.not_before, bundle.not_after, override_days=cert.renew_before_days, ari_window=ari
        )
        cert.ari_id, cert.ari_window, cert.ari_next_poll_at = op.result.get("ariId", ""), ari, None
        cert.status = transition(cert.status, Event.SUCCEEDED, facts_of(cert, utcnow()))
        cert.failure_count, cert.last_error = 0, ""
        if cert.active_operation == op.id:
            cert.active_operation = ""
        issued = {"thumbprint": bundle.thumbprint, "version": version.version, "notAfter": to_iso(bundle.not_after)}
        _notify(ctx, op, ISSUANCE_EVENTS[op.kind], {**issued, "hostnames": list(cert.hostnames)})
        return ctx.certificates.save(cert)

    return retry_on_conflict(apply)


def _record_failure(ctx: AppContext, op: Operation, err: CertsyncError, retry: Retry) -> None:
    """Keep the old version serving; the state machine sets the status and the next automatic try."""
    seconds = getattr(err, "retry_after", None)
    wait = timedelta(seconds=seconds) if seconds else None

    def apply() -> None:
        cert = ctx.certificates.get(op.target)
        if cert.active_operation not in (op.id, ""):
            return  # another operation owns the certificate now
        cert.failure_count += 1
        cert.last_error = f"{err.code}: {err.message}"[:1000]
        outcome = after_failure(cert, retry, utcnow(), wait)
        cert.status, cert.renewal_due_at = outcome.status, outcome.renewal_due_at
        if cert.active_operation == op.id:
            cert.active_operation = ""
        error = {"code": err.code, "message": err.message}
        _notify(ctx, op, EventType.RENEWAL_FAILED, {"operation": op.id, "kind": op.kind.value, "error": error,
                                                    "failureCount": cert.failure_count,
                                                    "nextAttemptAt": to_iso(cert.renewal_due_at)})
        ctx.certificates.save(cert)

    retry_on_conflict(apply)


def _notify(ctx: AppContext, op: Operation, kind: EventType, data: dict) -> None:
    """Recorded before the certificate row it describes: a crash in between is redelivered and
    records the same event (its id comes from the operation), so it is neither lost nor doubled."""
    record(ctx, operation_event(op, kind, {"operation": op.id, **data}))
