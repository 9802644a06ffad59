"""Run one invocation the way the Python worker does, and log it the way Core Tools does.

Sync functions run on one shared thread pool (PYTHON_THREADPOOL_THREAD_COUNT, else Python's
default size), `async def` ones on a single event loop thread. Arguments are bound by binding
name, `context` gets a Context, and output bindings are delivered after the call; a failed
delivery fails the invocation, as in the host.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import azure.functions as func
from azure.functions import _abc as functions_abc  # TraceContext/RetryContext are not re-exported

from devtools.local_host.discovery import CONTEXT_PARAMETER, Binding, FunctionSpec

log = logging.getLogger("devtools.local_host")


# Frames from these folders are the host's plumbing, not the user's code: left out of tracebacks.
_HOST_CODE = tuple(os.path.dirname(m.__file__ or "") for m in (sys.modules[__name__], asyncio, concurrent.futures))


def user_traceback(error: BaseException | None) -> str:
    """The traceback from the first frame outside this host, thread pools and asyncio."""
    if error is None:
        return ""
    frames = error.__traceback__
    while frames is not None and frames.tb_frame.f_code.co_filename.startswith(_HOST_CODE):
        frames = frames.tb_next
    return "".join(traceback.format_exception(type(error), error, frames or error.__traceback__)).rstrip()


class OutValue(func.Out):
    """The object a `func.Out[T]` parameter receives."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _TraceContext(functions_abc.TraceContext):
    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(functions_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """What a `context` parameter receives."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._local = threading.local()
        self._local.invocation_id = invocation_id
        self._trace = _TraceContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]  # the stub says type[local]; the worker passes an instance
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> functions_abc.TraceContext:
        return self._trace

    @property
    def retry_context(self) -> functions_abc.RetryContext:
        return _RetryContext()


class OutputSink(Protocol):
    """Delivers a non-HTTP output binding's value (e.g. sends queue messages)."""

    def deliver(self, function: FunctionSpec, binding: Binding, value: Any) -> None: ...


@dataclass
class InvocationResult:
    invocation_id: str
    succeeded: bool
    http_response: Any = None
    error: BaseException | None = None
    duration_ms: float = 0.0
    outputs: dict[str, Any] = field(default_factory=dict)


class Invoker:
    def __init__(self, output_sink: OutputSink | None = None, function_directory: str = "") -> None:
        self._sink = output_sink
        self._function_directory = function_directory
        threads = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT")
        self._pool = ThreadPoolExecutor(
            max_workers=int(threads) if threads and threads.isdigit() and int(threads) > 0 else None,
            thread_name_prefix="function",
        )
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="function-event-loop", daemon=True)

    def start(self) -> None:
        self._loop_thread.start()

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._loop_thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)

    def invoke(self, spec: FunctionSpec, trigger_value: Any, reason: str) -> InvocationResult:
        """Run the function once; never raises for user errors (they are in the result)."""
        invocation_id = str(uuid.uuid4())
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        started = time.monotonic()
        outs = {b.name: OutValue() for b in spec.outputs if b.name in spec.parameters}
        kwargs: dict[str, Any] = {spec.trigger.name: trigger_value, **outs}
        kwargs.update({b.name: None for b in spec.inputs if b.name in spec.parameters})  # unsupported inputs
        if CONTEXT_PARAMETER in spec.parameters:
            kwargs[CONTEXT_PARAMETER] = InvocationContext(invocation_id, spec.name, self._function_directory)
        result = InvocationResult(invocation_id, succeeded=False)
        try:
            returned = self._call(spec, kwargs)
            values = {name: out.get() for name, out in outs.items()}
            values["$return"] = returned
            result.outputs = values
            for binding in spec.outputs:
                value = values.get(binding.name)
                if binding.type == "http":
                    result.http_response = value
                elif value is not None and self._sink is not None:
                    self._sink.deliver(spec, binding, value)
            result.succeeded = True
        except Exception as err:
            result.error = err
        result.duration_ms = (time.monotonic() - started) * 1000
        if result.succeeded:
            log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
                     spec.name, invocation_id, result.duration_ms)
        else:
            log.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n"
                "Exception while executing function: Functions.%s\n%s",
                spec.name, invocation_id, result.duration_ms, spec.name, user_traceback(result.error),
            )
        return result

    def _call(self, spec: FunctionSpec, kwargs: dict[str, Any]) -> Any:
        if spec.is_async:
            return asyncio.run_coroutine_threadsafe(spec.callable(**kwargs), self._loop).result()
        return self._pool.submit(spec.callable, **kwargs).result()
