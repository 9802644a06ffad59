"""GET /api/openapi.json (anonymous): the OpenAPI 3.1 document kept in docs/openapi.json."""
from __future__ import annotations

from pathlib import Path

import azure.functions as func

from functions.http import endpoint

bp = func.Blueprint()
DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(None)
def openapi_http(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(DOCUMENT.read_bytes(), mimetype="application/json")
