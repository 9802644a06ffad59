"""Timers: auto-renew every 8 hours and the background sync sweep (which also checks the
conditions worth a notification: shared.notify.watch)."""
from __future__ import annotations

import logging

import azure.functions as func

from shared.auto_renew import run_auto_renew
from shared.composition import get_context
from shared.notify.watch import run_watch
from shared.operations import repair_stranded
from shared.retention import prune_history
from shared.sweep import start_sweep

bp = func.Blueprint()
log = logging.getLogger("certsync.timers")


@bp.timer_trigger(arg_name="timer", schedule="%AUTO_RENEW_SCHEDULE%", run_on_startup=False)
def auto_renew(timer: func.TimerRequest) -> None:
    report = run_auto_renew(get_context())
    log.info("auto_renew: %s", report)


@bp.timer_trigger(arg_name="timer", schedule="%SYNC_SWEEP_SCHEDULE%", run_on_startup=False)
def sync_sweep(timer: func.TimerRequest) -> None:
    """Plans only: one queued unit per vault plus the binding repair, run by whichever
    instances take them from the operations queue; then queues again (or closes) operations
    whose queue message was lost, and deletes finished operations and deliveries past
    OPERATION_RETENTION_DAYS."""
    units = start_sweep(get_context())
    log.info("sync_sweep: %d units queued", len(units))
    log.info("stranded operations: %s", repair_stranded(get_context()))
    log.info("notifications: %s", run_watch(get_context()))
    log.info("retention: %s", prune_history(get_context()))
