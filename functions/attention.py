"""/api/attention: the dashboard's health view (what needs attention, each item with its certificate)."""
from __future__ import annotations

import azure.functions as func

from functions import shapes
from functions.http import endpoint, json_response
from shared import principal as roles
from shared.attention import needs_attention
from shared.composition import get_context

bp = func.Blueprint()


@bp.route(route="attention", methods=["GET"])
@endpoint(roles.READ)
def attention_http(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(shapes.attention(needs_attention(get_context())))
