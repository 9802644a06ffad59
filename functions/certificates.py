"""/api/certificates: create, list, overview, change, delete, renew, rekey, sync, revoke."""
from __future__ import annotations

import azure.functions as func

from functions import shapes
from functions.accepted import accepted
from functions.http import (
    endpoint,
    field,
    json_response,
    page_request,
    page_response,
    read_json,
    requested_by,
    route,
)
from shared import principal as roles
from shared.composition import get_context
from shared.errors import BadRequest
from shared.lifecycle import NewCertificate, create_certificate, delete_certificate, set_auto_renew, start_renewal
from shared.model import OperationKind, validate_name
from shared.overview import certificate_overview, certificate_summaries
from shared.pki import KeyType
from shared.revoke import start_revocation
from shared.sync.handlers import start_certificate_sync

bp = func.Blueprint()
CREATE_FIELDS = {"keyType", "autoRenew", "issuer", "validityDays", "reuseKey", "renewBeforeDays", "profile", "vault"}


def _key_type(value: object) -> KeyType:
    try:
        return KeyType(value if isinstance(value, str) else "")
    except ValueError:
        allowed = ", ".join(k.value for k in KeyType)
        message = f"keyType {str(value)[:40]!r} is not supported; use one of {allowed}"
        raise BadRequest(message, code="InvalidKeyType") from None


@bp.route(route="certificates", methods=["POST"])
@endpoint(roles.WRITE)
def create_certificate_http(req: func.HttpRequest) -> func.HttpResponse:
    body = read_json(req, required={"name", "hostnames"}, optional=CREATE_FIELDS)
    hostnames = field(body, "hostnames", list)
    if not hostnames or not all(isinstance(h, str) for h in hostnames):
        raise BadRequest("hostnames must be a non-empty list of strings", code="InvalidHostname")
    renew_before = field(body, "renewBeforeDays", int)
    spec = NewCertificate(
        name=validate_name(field(body, "name", str), "certificate name"),
        hostnames=tuple(hostnames),
        key_type=_key_type(field(body, "keyType", str, "RSA2048")),
        issuer=field(body, "issuer", str, "local"),
        auto_renew=field(body, "autoRenew", bool, True),
        validity_days=field(body, "validityDays", int),
        reuse_key=field(body, "reuseKey", bool, False),
        renew_before_days=renew_before,
        profile=field(body, "profile", str, ""),
        vault=field(body, "vault", str, ""),
    )
    return accepted(create_certificate(get_context(), spec, requested_by(req)))


@bp.route(route="certificates", methods=["GET"])
@endpoint(roles.READ)
def list_certificates_http(req: func.HttpRequest) -> func.HttpResponse:
    top, token = page_request(req, default=50, maximum=100)  # each row reads its links' index
    page = certificate_summaries(get_context(), top, token)
    return page_response(req, [shapes.summary(s) for s in page.items], page.next_token)


@bp.route(route="certificates/{name}", methods=["GET"])
@endpoint(roles.READ)
def get_certificate_http(req: func.HttpRequest) -> func.HttpResponse:
    name = validate_name(route(req, "name"), "certificate name")
    return json_response(shapes.overview(certificate_overview(get_context(), name)))


@bp.route(route="certificates/{name}", methods=["PATCH"])
@endpoint(roles.WRITE)
def update_certificate_http(req: func.HttpRequest) -> func.HttpResponse:
    name = validate_name(route(req, "name"), "certificate name")
    body = read_json(req, required={"autoRenew"})  # null: 400 MissingField, as for every required field
    ctx = get_context()
    cert = set_auto_renew(ctx, name, field(body, "autoRenew", bool))
    return json_response(shapes.certificate(cert, ctx.secret_of(cert).vault_url))


@bp.route(route="certificates/{name}", methods=["DELETE"])
@endpoint(roles.WRITE)
def delete_certificate_http(req: func.HttpRequest) -> func.HttpResponse:
    delete_certificate(get_context(), validate_name(route(req, "name"), "certificate name"))
    return func.HttpResponse(status_code=204)


@bp.route(route="certificates/{name}/renew", methods=["POST"])
@endpoint(roles.WRITE)
def renew_certificate_http(req: func.HttpRequest) -> func.HttpResponse:
    name = validate_name(route(req, "name"), "certificate name")
    read_json(req)
    return accepted(start_renewal(get_context(), name, OperationKind.RENEW, {}, requested_by(req)))


@bp.route(route="certificates/{name}/rekey", methods=["POST"])
@endpoint(roles.WRITE)
def rekey_certificate_http(req: func.HttpRequest) -> func.HttpResponse:
    name = validate_name(route(req, "name"), "certificate name")
    body = read_json(req, optional={"keyType"})
    params = {"keyType": _key_type(body["keyType"]).value} if body.get("keyType") is not None else {}
    return accepted(start_renewal(get_context(), name, OperationKind.REKEY, params, requested_by(req)))


@bp.route(route="certificates/{name}/sync", methods=["POST"])
@endpoint(roles.WRITE)
def sync_certificate_http(req: func.HttpRequest) -> func.HttpResponse:
    name = validate_name(route(req, "name"), "certificate name")
    read_json(req)
    return accepted(start_certificate_sync(get_context(), name, requested_by(req)))


@bp.route(route="certificates/{name}/revoke", methods=["POST"])
@endpoint(roles.WRITE)
def revoke_certificate_http(req: func.HttpRequest) -> func.HttpResponse:
    name = validate_name(route(req, "name"), "certificate name")
    body = read_json(req, required={"reason"}, optional={"version"})
    reason, version = field(body, "reason", str), field(body, "version", str)
    return accepted(start_revocation(get_context(), name, reason, version, requested_by(req)))
