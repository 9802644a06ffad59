"""/api/certificates/{name}/export (the file, role Certificates.Export) and
/api/certificates/{name}/secret (where it lives in Key Vault, role Certificates.Read)."""
from __future__ import annotations

import azure.functions as func

from functions.http import endpoint, field, json_response, read_json, requested_by, route
from shared import principal as roles
from shared.composition import get_context
from shared.export import ExportRequest, export_certificate, secret_location

bp = func.Blueprint()


@bp.route(route="certificates/{name}/export", methods=["POST"])
@endpoint(roles.EXPORT)
def export_certificate_http(req: func.HttpRequest) -> func.HttpResponse:
    body = read_json(req, required={"format"}, optional={"password", "version", "encryption", "includeKey"})
    request = ExportRequest(
        format=field(body, "format", str),
        password=field(body, "password", str),
        version=field(body, "version", str),
        encryption=field(body, "encryption", str),
        include_key=field(body, "includeKey", bool, True),
    )
    exported = export_certificate(get_context(), route(req, "name"), request, requested_by(req))
    return func.HttpResponse(
        exported.content,
        status_code=200,
        mimetype=exported.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{exported.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.route(route="certificates/{name}/secret", methods=["GET"])
@endpoint(roles.READ)
def certificate_secret_http(req: func.HttpRequest) -> func.HttpResponse:
    ctx = get_context()
    location = secret_location(ctx, route(req, "name"), req.params.get("version"))
    return json_response(
        {
            "keyVaultSecretId": location.secret_id,
            "keyVaultResourceId": location.vault_resource_id,
            "version": location.version,
            "versionId": location.version_id,
            "portalUrl": location.portal_url,
        }
    )
