"""GET /api/health (anonymous): 200 when the app is configured and Table Storage and Key Vault
answer, else 503 with the reason (a bad app setting found at start, or the failing dependency)."""
from __future__ import annotations

import azure.functions as func

from functions.http import json_response
from shared.composition import get_context, startup_problem
from shared.health import check_dependencies, not_configured

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    problem = startup_problem()
    report = not_configured(problem) if problem else check_dependencies(get_context())
    return json_response(report.as_dict(), 200 if report.healthy else 503)
