"""Poll one Storage queue for one function, following the Storage Queues extension's loop.

Receive up to batchSize messages with a 10-minute lease (renewed halfway while the function
runs), run them concurrently, fetch again once no more than newBatchThreshold are running,
and back off from 100 ms to maxPollingInterval while the queue is empty. Success deletes the
message; failure makes it visible again after visibilityTimeout, and once the dequeue count
reaches maxDequeueCount the message is copied to `<queue>-poison` and deleted.
"""
from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient
from azure.storage.queue import QueueMessage as StoredMessage

from devtools.local_host.discovery import FunctionSpec
from devtools.local_host.host_config import MIN_POLLING_INTERVAL, QueueOptions
from devtools.local_host.invoker import Invoker
from devtools.local_host.queue_messages import MessageDecodingError, decode_body, trigger_argument, trigger_message
from devtools.local_host.timespan import parse_timespan

log = logging.getLogger("devtools.local_host")

POISON_SUFFIX = "-poison"
MAX_QUEUE_NAME = 63
# The extension's receive visibility while a message runs: a killed instance's messages come back
# after it. DEVTOOLS_QUEUE_MESSAGE_LEASE (a TimeSpan; local only, no such host setting exists)
# shortens it so a test can watch that happen.
LEASE = parse_timespan(os.environ.get("DEVTOOLS_QUEUE_MESSAGE_LEASE") or "00:10:00")


def poison_queue_name(queue_name: str) -> str | None:
    """`<queue>-poison`, or None where the extension keeps no poison queue."""
    if queue_name.endswith(POISON_SUFFIX) or len(queue_name) + len(POISON_SUFFIX) > MAX_QUEUE_NAME:
        return None
    return queue_name + POISON_SUFFIX


def send_creating_queue(queue: QueueClient, text: str) -> None:
    """Send, creating the queue on first use (the host's AddMessageAndCreateIfNotExists)."""
    try:
        queue.send_message(text)
    except ResourceNotFoundError:
        with contextlib.suppress(ResourceExistsError):
            queue.create_queue()
        queue.send_message(text)


class Backoff:
    """Randomized exponential delays from 100 ms up to a maximum; reset when work was found."""

    def __init__(self, maximum: timedelta, minimum: timedelta = MIN_POLLING_INTERVAL,
                 rand: Callable[[], float] = random.random) -> None:
        self._min = minimum.total_seconds()
        self._max = max(maximum.total_seconds(), self._min)
        self._rand = rand
        self._exponent = 0
        self._current = self._min

    def next_delay(self, found_work: bool) -> float:
        if found_work:
            self._exponent, self._current = 0, self._min
        elif self._current < self._max:
            spread = 0.8 + 0.4 * self._rand()
            self._current = min(self._max, self._min + spread * self._min * (2**self._exponent - 1))
            self._exponent += 1
        return self._current


class _Lease:
    """Keeps a running message invisible: renews its visibility halfway through each lease."""

    def __init__(self, queue: QueueClient, message: StoredMessage) -> None:
        self._queue = queue
        self.message_id = message.id
        self.pop_receipt = message.pop_receipt
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{message.id}", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._done.wait(LEASE.total_seconds() / 2):
            try:
                updated = self._queue.update_message(
                    self.message_id, self.pop_receipt, visibility_timeout=int(LEASE.total_seconds())
                )
                self.pop_receipt = updated.pop_receipt
            except AzureError as err:
                log.warning("could not renew the lease of queue message %s: %s", self.message_id, err)


class QueueListener:
    def __init__(
        self,
        function: FunctionSpec,
        queue: QueueClient,
        poison_queue: QueueClient | None,
        options: QueueOptions,
        invoker: Invoker,
        on_enqueued: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.function = function
        self.queue_name = queue.queue_name
        self._queue = queue
        self._poison = poison_queue
        self._options = options
        self._invoker = invoker
        self._on_enqueued = on_enqueued
        self._backoff = Backoff(options.max_polling_interval)
        self._pool = ThreadPoolExecutor(options.max_concurrency, thread_name_prefix=f"queue-{function.name}")
        self._in_flight: set[Future[None]] = set()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"queue-listener-{function.name}", daemon=True)
        self._queue_ready = False
        self._failing = False

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """A message was just enqueued here by this host: poll now (the host's SharedQueueWatcher)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Stop polling; messages already running are allowed to finish."""
        self._stopping.set()
        self._wake.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        found_since_delay = False
        while not self._stopping.is_set():
            try:
                messages = self._receive()
            except Exception as err:
                self._report_poll_failure(err)
                self._sleep(self._backoff.next_delay(False))
                continue
            if not messages:
                self._sleep(self._backoff.next_delay(found_since_delay))
                found_since_delay = False
                continue
            found_since_delay = True
            for message in messages:
                self._in_flight.add(self._pool.submit(self._process, message))
            self._wait_for_new_batch_threshold()
        wait(self._in_flight)

    def _receive(self) -> list[StoredMessage]:
        if not self._queue_ready:
            # the extension waits for the queue; creating it is friendlier locally
            with contextlib.suppress(ResourceExistsError):
                self._queue.create_queue()
            self._queue_ready = True
        try:
            pages = self._queue.receive_messages(
                messages_per_page=self._options.batch_size, visibility_timeout=int(LEASE.total_seconds())
            ).by_page()
            messages = list(next(pages, []))
        except ResourceNotFoundError:
            self._queue_ready = False  # deleted under us: create it again next time
            raise
        if self._failing:
            log.info("queue '%s' is reachable again", self.queue_name)
            self._failing = False
        return messages

    def _report_poll_failure(self, err: Exception) -> None:
        if not self._failing:
            log.warning("polling queue '%s' for %s failed (will keep retrying): %s",
                        self.queue_name, self.function.name, str(err).splitlines()[0] if str(err) else err)
        self._failing = True

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _wait_for_new_batch_threshold(self) -> None:
        while len(self._in_flight) > self._options.new_batch_threshold and not self._stopping.is_set():
            _, self._in_flight = wait(self._in_flight, timeout=0.5, return_when=FIRST_COMPLETED)
        self._in_flight = {f for f in self._in_flight if not f.done()}

    def _process(self, message: StoredMessage) -> None:
        try:
            self._process_message(message)
        except Exception:
            log.exception("handling queue message %s from '%s' failed", message.id, self.queue_name)

    def _process_message(self, message: StoredMessage) -> None:
        if (message.dequeue_count or 0) > self._options.max_dequeue_count:
            self._move_to_poison(message, message.pop_receipt)
            return
        try:
            body = decode_body(message.content or "", self._options.message_encoding)
        except MessageDecodingError as err:
            log.warning("queue message %s on '%s' cannot be decoded: %s", message.id, self.queue_name, err)
            self._move_to_poison(message, message.pop_receipt)
            return
        trigger = trigger_message(
            body,
            id=message.id,
            dequeue_count=message.dequeue_count,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        annotation: Any = self.function.annotations.get(self.function.trigger.name)
        with _Lease(self._queue, message) as lease:
            reason = f"New queue message detected on '{self.queue_name}'."
            result = self._invoker.invoke(self.function, trigger_argument(trigger, annotation), reason)
        if result.succeeded:
            self._ignore_gone(lambda: self._queue.delete_message(message.id, lease.pop_receipt))
        elif self._poison is None:
            pass  # no poison queue: leave it invisible so a failing message cannot spin (the extension's rule)
        elif (message.dequeue_count or 0) >= self._options.max_dequeue_count:
            self._move_to_poison(message, lease.pop_receipt)
        else:
            seconds = int(self._options.visibility_timeout.total_seconds())
            self._ignore_gone(
                lambda: self._queue.update_message(message.id, lease.pop_receipt, visibility_timeout=seconds)
            )

    def _move_to_poison(self, message: StoredMessage, pop_receipt: str | None) -> None:
        if self._poison is None:
            return
        log.warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
            self._options.max_dequeue_count, self._poison.queue_name,
        )
        send_creating_queue(self._poison, message.content or "")
        self._ignore_gone(lambda: self._queue.delete_message(message.id, pop_receipt))
        self._on_enqueued(self._poison.queue_name)

    @staticmethod
    def _ignore_gone(action: Callable[[], object]) -> None:
        """A message someone else took over, or that is already gone, needs nothing more."""
        try:
            action()
        except ResourceNotFoundError:
            pass
        except HttpResponseError as err:
            if err.status_code not in (400, 404):  # 400: pop receipt mismatch
                raise
