"""The 202 Accepted shape every operation-starting endpoint returns."""
from __future__ import annotations

import azure.functions as func

from functions import shapes
from functions.http import json_response
from shared.model import Operation


def accepted(op: Operation) -> func.HttpResponse:
    location = f"/api/operations/{op.id}"
    return json_response(shapes.operation(op), 202, {"Location": location, "Retry-After": "1"})
