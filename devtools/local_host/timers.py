"""Fire timer-triggered functions on their schedules, once per occurrence across all instances.

As in the Timers extension, a timer's listener is a singleton: only the instance holding the
listener lock (a blob lease, devtools/local_host/singleton.py) fires it; the others try to
take the lock over every recovery interval. The schedule status (last/next occurrence) is read
from storage when the lock is taken and written after each run, so an occurrence missed while
no instance held the lock runs once at once, with `past_due` set. Within one instance,
scheduled and admin-requested runs never overlap. Schedules use local time, as under Core Tools.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from azure.core.exceptions import AzureError
from azure.functions.timer import TimerRequest

from devtools.local_host.discovery import FunctionSpec
from devtools.local_host.invoker import InvocationResult, Invoker
from devtools.local_host.schedule_monitor import ScheduleMonitor, ScheduleStatus, check_past_due
from devtools.local_host.schedules import TimerSchedule
from devtools.local_host.singleton import TimerLock

log = logging.getLogger("devtools.local_host")

_MAX_SLEEP = 1.0  # re-read the clock at least this often, so clock jumps are noticed


def timer_request(past_due: bool, status: ScheduleStatus | None) -> TimerRequest:
    """The TimerRequest the worker builds, with the host's ScheduleStatus fields."""
    fields = {
        "Last": status.last.isoformat() if status and status.last else None,
        "Next": status.next.isoformat() if status else None,
        "LastUpdated": status.last_updated.isoformat() if status else datetime.now().isoformat(),
    }
    return TimerRequest(past_due=past_due, schedule_status=fields, schedule={"AdjustForDST": True})


class TimerRunner:
    def __init__(
        self,
        function: FunctionSpec,
        schedule: TimerSchedule,
        invoker: Invoker,
        lock: TimerLock,
        monitor: ScheduleMonitor,
        recovery_interval: timedelta,
        run_on_startup: bool = False,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.function = function
        self.schedule = schedule
        self._invoker = invoker
        self._lock = lock
        self._monitor = monitor
        self._recovery = recovery_interval.total_seconds()
        self._run_on_startup = run_on_startup
        self._clock = clock
        self._singleton = threading.Lock()
        self._stopping = threading.Event()
        self._status: ScheduleStatus | None = None
        self._thread = threading.Thread(target=self._run, name=f"timer-{function.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_now(self, reason: str) -> InvocationResult:
        """An admin-requested run: waits for a scheduled run here, never overlaps it, and
        leaves the schedule status alone (the host's admin invoke bypasses the listener)."""
        with self._singleton:
            return self._invoker.invoke(self.function, timer_request(False, self._status), reason)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                acquired = self._lock.try_acquire()
            except AzureError as err:
                log.warning("timer %s: the listener lock is unreachable: %s", self.function.name, type(err).__name__)
                acquired = False
            if not acquired:
                self._stopping.wait(self._recovery)
                continue
            log.info("timer %s: this instance holds the listener lock", self.function.name)
            try:
                self._listen()
            except Exception:
                log.exception("timer %s: listener failed", self.function.name)
            finally:
                self._lock.release()

    def _listen(self) -> None:
        """Run occurrences while this instance holds the lock; return when it is lost or stopping."""
        now = self._clock()
        past_due, status = check_past_due(self._monitor.read(), now, self.schedule)
        self._status = status or self._initial_status(now)
        if past_due:
            self._fire(now, f"Timer fired at {now.isoformat()} (past due)", past_due=True)
        elif self._run_on_startup:
            self._run_on_startup = False
            self._fire(now, "Timer fired on startup (RunOnStartup=true)")
        while self._status is not None and not self._stopping.is_set():
            due = self._status.next
            while not self._stopping.is_set() and not self._lock.lost():
                remaining = (due - self._clock()).total_seconds()
                if remaining <= 0:
                    break
                self._lock.wait_lost(min(remaining, _MAX_SLEEP))
            if self._stopping.is_set() or self._lock.lost():
                return
            self._fire(due, f"Timer fired at {due.isoformat()}")

    def _initial_status(self, now: datetime) -> ScheduleStatus | None:
        upcoming = self.schedule.next_after(now)
        if upcoming is None:
            log.warning("timer %s: schedule %r has no future occurrence; it will not fire",
                        self.function.name, self.schedule.expression)
            return None
        return ScheduleStatus(None, upcoming, now)

    def _fire(self, moment: datetime, reason: str, past_due: bool = False) -> None:
        """Run once, then record the occurrence. Like the host, `Next` follows the scheduled
        time, so a run longer than the interval is followed at once by the next occurrence."""
        with self._singleton:
            try:
                self._invoker.invoke(self.function, timer_request(past_due, self._status), reason)
            except Exception:
                log.exception("timer %s could not run", self.function.name)
            upcoming = self.schedule.next_after(moment)
            if upcoming is None:
                self._status = None
                return
            self._status = ScheduleStatus(moment, upcoming, moment)
            if not self._lock.lost():
                self._monitor.write(self._status)
