"""/api/operations: the history of background work, and one operation's state."""
from __future__ import annotations

import re

import azure.functions as func

from functions import shapes
from functions.http import endpoint, json_response, page_request, page_response, route
from shared import principal as roles
from shared.composition import get_context
from shared.errors import BadRequest, NotFound
from shared.model import OperationKind
from shared.paging import page_size

bp = func.Blueprint()
OPERATION_ID = re.compile(r"^\d{13}-[0-9a-f]{12}$")
TARGET = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@bp.route(route="operations/{id}", methods=["GET"])
@endpoint(roles.READ)
def get_operation_http(req: func.HttpRequest) -> func.HttpResponse:
    op_id = route(req, "id")
    if not OPERATION_ID.fullmatch(op_id):
        raise NotFound(f"operation {op_id[:40]!r} was not found", code="OperationNotFound")
    return json_response(shapes.operation(get_context().operations.get(op_id)))


@bp.route(route="operations", methods=["GET"])
@endpoint(roles.READ)
def list_operations_http(req: func.HttpRequest) -> func.HttpResponse:
    target, kind = req.params.get("target"), req.params.get("kind")
    if target is not None and not TARGET.fullmatch(target):
        raise BadRequest("target must be a certificate or link name", code="InvalidName")
    if kind is not None and kind not in {k.value for k in OperationKind}:
        allowed = ", ".join(k.value for k in OperationKind)
        raise BadRequest(f"kind must be one of {allowed}", code="InvalidKind")
    top, token = page_request(req, default=100, maximum=1000)
    if "$top" not in req.params and "top" in req.params:  # the name before paging, still accepted
        top = page_size(req.params["top"], 100, 1000)
    page = get_context().operations.page(top, token, target=target, kind=kind)
    return page_response(req, [shapes.operation(op) for op in page.items], page.next_token)
