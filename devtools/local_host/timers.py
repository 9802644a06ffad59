"""Fire timer-triggered functions on their schedules, one thread per timer.

Like the host, a timer is a singleton: scheduled and admin-requested runs of one function never
overlap, and the next occurrence is computed after a run ends, so a slow run skips occurrences
instead of queueing them. Schedules are evaluated in local time, as under Core Tools.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from azure.functions.timer import TimerRequest

from devtools.local_host.discovery import FunctionSpec
from devtools.local_host.invoker import InvocationResult, Invoker
from devtools.local_host.schedules import TimerSchedule

log = logging.getLogger("devtools.local_host")

# Waking later than this after the scheduled time marks the run past due (e.g. after a suspend).
PAST_DUE_AFTER = timedelta(seconds=1)
_MAX_SLEEP = 1.0  # re-read the clock at least this often, so clock jumps are noticed


def timer_request(past_due: bool, last: datetime | None, next_: datetime | None) -> TimerRequest:
    """The TimerRequest the worker builds, with the host's ScheduleStatus fields."""
    status = {
        "Last": last.isoformat() if last else None,
        "Next": next_.isoformat() if next_ else None,
        "LastUpdated": datetime.now().isoformat(),
    }
    return TimerRequest(past_due=past_due, schedule_status=status, schedule={"AdjustForDST": True})


class TimerRunner:
    def __init__(
        self,
        function: FunctionSpec,
        schedule: TimerSchedule,
        invoker: Invoker,
        run_on_startup: bool = False,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.function = function
        self.schedule = schedule
        self._invoker = invoker
        self._run_on_startup = run_on_startup
        self._clock = clock
        self._singleton = threading.Lock()
        self._stopping = threading.Event()
        self._last: datetime | None = None
        self._thread = threading.Thread(target=self._run, name=f"timer-{function.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_now(self, reason: str) -> InvocationResult:
        """An admin-requested run: waits for a scheduled run in progress, never overlaps it."""
        now = self._clock()
        return self._fire(past_due=False, scheduled=now, reason=reason)

    def _fire(self, past_due: bool, scheduled: datetime, reason: str) -> InvocationResult:
        with self._singleton:
            next_ = self.schedule.next_after(self._clock())
            request = timer_request(past_due, self._last, next_)
            result = self._invoker.invoke(self.function, request, reason)
            self._last = scheduled
            return result

    def _run(self) -> None:
        if self._run_on_startup:
            self._fire(False, self._clock(), "Timer fired on startup (RunOnStartup=true)")
        while not self._stopping.is_set():
            due = self.schedule.next_after(self._clock())
            if due is None:
                log.warning("timer %s: schedule %r has no future occurrence; it will not fire",
                            self.function.name, self.schedule.expression)
                return
            while not self._stopping.is_set():
                remaining = (due - self._clock()).total_seconds()
                if remaining <= 0:
                    break
                self._stopping.wait(min(remaining, _MAX_SLEEP))
            if self._stopping.is_set():
                return
            late = self._clock() - due
            try:
                self._fire(late > PAST_DUE_AFTER, due, f"Timer fired at {self._clock().isoformat()}")
            except Exception:  # noqa: BLE001 - user errors are in the result; this is the host's own
                log.exception("timer %s could not run", self.function.name)
