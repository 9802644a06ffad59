"""Queue trigger: hands each delivery of an operation (issue, renew, rekey, sync) to the engine."""
from __future__ import annotations

import logging

import azure.functions as func

from shared.composition import application
from shared.queueing import parse_message, parse_trace_context

bp = func.Blueprint()
log = logging.getLogger("certsync.worker")


@bp.queue_trigger(arg_name="msg", queue_name="%OPERATIONS_QUEUE%", connection="AzureWebJobsStorage")
def run_operation_queue(msg: func.QueueMessage) -> None:
    try:
        op_id = parse_message(msg.get_body().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        log.warning("dropping malformed queue message %s", msg.id)
        return
    app = application()  # not configured: raises; the host retries the delivery, then poison-queues it
    # Dependency outages raise out of here so the host redelivers the message (then poison queue).
    body = msg.get_body().decode("utf-8")
    app.engine.run(app.context, op_id, delivery=msg.dequeue_count or 1, trace=parse_trace_context(body))
