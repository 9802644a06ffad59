"""Operation queue: POST handlers enqueue, the queue-triggered function runs the work.

Messages are base64 text, the Functions host's default queue message encoding.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy

from shared.errors import DependencyError
from shared.storage_clients import StorageClients


class StorageOperationQueue:
    """The Azure Storage queue behind shared.ports.OperationQueue."""

    def __init__(self, storage: StorageClients, queue_name: str) -> None:
        self.client = storage.queue(
            queue_name,
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )
        self._created = False

    def enqueue(self, operation_id: str, *, delay_seconds: int = 0, trace: Mapping[str, str] | None = None) -> None:
        self._ensure_queue()
        body = message_body(operation_id, trace)
        try:
            self.client.send_message(body, visibility_timeout=delay_seconds or None)
        except AzureError as err:
            raise DependencyError(f"queue {self.client.queue_name} failed: {type(err).__name__}") from None

    def _ensure_queue(self) -> None:
        if self._created:
            return
        try:
            self.client.create_queue()
        except ResourceExistsError:
            pass
        except AzureError as err:
            raise DependencyError(f"queue {self.client.queue_name} unreachable: {type(err).__name__}") from None
        self._created = True

    def close(self) -> None:
        self.client.close()


def message_body(operation_id: str, trace: Mapping[str, str] | None = None) -> str:
    """{"operationId", and the W3C `traceparent`/`tracestate` of the span that queued it}."""
    return json.dumps({"operationId": operation_id, **dict(trace or {})})


def parse_trace_context(body: str) -> dict[str, str]:
    """The trace context a message carries ({} when none or malformed: tracing is best effort)."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in ("traceparent", "tracestate") and isinstance(v, str)}


def parse_message(body: str) -> str:
    """The operation id in a queue message; raises ValueError on anything else."""
    data = json.loads(body)
    op_id = data.get("operationId") if isinstance(data, dict) else None
    if not isinstance(op_id, str) or not op_id:
        raise ValueError("queue message has no operationId")
    return op_id
