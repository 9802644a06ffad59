"""Queue output bindings (`@app.queue_output`, `func.Out[str]` or `$return`): send after the call.

Values are encoded per host.json messageEncoding and the queue is created on first use, as
the host does; a local listener on that queue is woken at once (the host's SharedQueueWatcher).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from devtools.local_host.app_settings import resolve_setting_expressions
from devtools.local_host.discovery import Binding, FunctionSpec
from devtools.local_host.host_config import QueueOptions
from devtools.local_host.queue_listener import send_creating_queue
from devtools.local_host.queue_messages import encode_body, output_bodies
from devtools.local_host.storage import QueueClients

log = logging.getLogger("devtools.local_host")


class QueueOutputSink:
    def __init__(self, clients: QueueClients, options: QueueOptions, on_enqueued: Callable[[str], None]) -> None:
        self._clients = clients
        self._options = options
        self._on_enqueued = on_enqueued
        self._warned: set[tuple[str, str]] = set()

    def deliver(self, function: FunctionSpec, binding: Binding, value: Any) -> None:
        if binding.type != "queue":
            if (function.name, binding.name) not in self._warned:
                self._warned.add((function.name, binding.name))
                log.warning("Functions.%s: the %r output binding %r is not supported locally; its value is dropped",
                            function.name, binding.type, binding.name)
            return
        queue_name = resolve_setting_expressions(str(binding.get("queueName", ""))).lower()
        queue = self._clients.queue(binding.get("connection"), queue_name)
        for body in output_bodies(value):
            send_creating_queue(queue, encode_body(body, self._options.message_encoding))
        self._on_enqueued(queue_name)
