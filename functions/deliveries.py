"""/api/deliveries: webhook deliveries (status, attempts, last error), newest first."""
from __future__ import annotations

import azure.functions as func

from functions import shapes
from functions.http import endpoint, page_request, page_response
from shared import principal as roles
from shared.composition import get_context
from shared.errors import BadRequest
from shared.model import DeliveryStatus

bp = func.Blueprint()


@bp.route(route="deliveries", methods=["GET"])
@endpoint(roles.READ)
def list_deliveries_http(req: func.HttpRequest) -> func.HttpResponse:
    status = req.params.get("status")
    if status is not None and status not in {s.value for s in DeliveryStatus}:
        raise BadRequest(f"status must be one of {', '.join(s.value for s in DeliveryStatus)}", code="InvalidStatus")
    top, token = page_request(req, default=100, maximum=1000)
    page = get_context().deliveries.page(top, token, status=status)
    return page_response(req, [shapes.delivery(d) for d in page.items], page.next_token)
