"""GET /api/health (anonymous): 200 when Table Storage and Key Vault answer, else 503."""
from __future__ import annotations

import azure.functions as func

from functions.http import json_response
from shared.health import check_dependencies

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    report = check_dependencies()
    return json_response(report.as_dict(), 200 if report.healthy else 503)
