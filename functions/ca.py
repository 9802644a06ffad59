"""GET /api/ca/root.pem and /api/ca/crl (anonymous): the local CA's root, so a person can trust it,
and its certificate revocation list, so a client can check what it revoked."""
from __future__ import annotations

import azure.functions as func

from functions.http import endpoint
from shared.composition import get_context

bp = func.Blueprint()


@bp.route(route="ca/root.pem", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(None)
def ca_root_http(req: func.HttpRequest) -> func.HttpResponse:
    pem = get_context().local_ca().root_certificate_pem()
    return func.HttpResponse(
        pem,
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="certsync-root-ca.pem"'},
    )


@bp.route(route="ca/crl", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(None)
def ca_crl_http(req: func.HttpRequest) -> func.HttpResponse:
    der = get_context().local_ca().crl_der()
    return func.HttpResponse(
        der,
        mimetype="application/pkix-crl",
        headers={"Content-Disposition": 'attachment; filename="certsync-local-ca.crl"', "Cache-Control": "max-age=300"},
    )
