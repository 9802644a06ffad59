"""certsync Azure Functions app (Python v2 programming model): composes the application once,
at start (shared.composition), then registers the blueprints."""
import logging

import azure.functions as func

from functions.attention import bp as attention_bp
from functions.bindings import bp as bindings_bp
from functions.ca import bp as ca_bp
from functions.certificates import bp as certificates_bp
from functions.dashboard import bp as dashboard_bp
from functions.deliveries import bp as deliveries_bp
from functions.export import bp as export_bp
from functions.health import bp as health_bp
from functions.links import bp as links_bp
from functions.metrics import bp as metrics_bp
from functions.openapi import bp as openapi_bp
from functions.operations import bp as operations_bp
from functions.timers import bp as timers_bp
from functions.worker import bp as worker_bp
from shared.composition import start

# Azure SDK HTTP logging would print request headers; keep it at warnings.
logging.getLogger("azure").setLevel(logging.WARNING)
start()  # settings, context, operation handlers; a bad setting is logged here and answered by /api/health

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (
    health_bp,
    certificates_bp,
    export_bp,
    links_bp,
    bindings_bp,
    operations_bp,
    deliveries_bp,
    attention_bp,
    ca_bp,
    openapi_bp,
    metrics_bp,
    dashboard_bp,
    worker_bp,
    timers_bp,
):
    app.register_functions(blueprint)
