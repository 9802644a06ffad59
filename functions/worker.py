"""Queue trigger: runs queued operations (issue, renew, rekey, sync) in the background."""
from __future__ import annotations

import logging

import azure.functions as func

import shared.lifecycle  # noqa: F401 - registers the issue/renew/rekey handlers
import shared.sweep  # registers the sweep unit handler
import shared.sync.handlers  # noqa: F401 - registers the sync handlers
from shared.app_context import get_context
from shared.operations import run_operation
from shared.queueing import parse_message

bp = func.Blueprint()
log = logging.getLogger("certsync.worker")


@bp.queue_trigger(arg_name="msg", queue_name="%OPERATIONS_QUEUE%", connection="AzureWebJobsStorage")
def run_operation_queue(msg: func.QueueMessage) -> None:
    try:
        op_id = parse_message(msg.get_body().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        log.warning("dropping malformed queue message %s", msg.id)
        return
    # Dependency outages raise out of here so the host retries the message (then poison queue).
    run_operation(get_context(), op_id, attempt=msg.dequeue_count or 1)
