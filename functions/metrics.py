"""GET /api/metrics (function key): the Prometheus text format. State gauges come from Table
Storage at scrape time (the same on every instance); counters and histograms are this
instance's process metrics (shared/telemetry.py)."""
from __future__ import annotations

import azure.functions as func

from functions.http import endpoint
from shared import principal as roles
from shared.composition import get_context
from shared.metrics_state import exposition
from shared.prometheus import CONTENT_TYPE

bp = func.Blueprint()


@bp.route(route="metrics", methods=["GET"])
@endpoint(roles.READ)
def metrics_http(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(exposition(get_context()), headers={"Content-Type": CONTENT_TYPE})
