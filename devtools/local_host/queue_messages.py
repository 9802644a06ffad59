"""Queue message bodies as the Storage Queues extension sees them.

host.json `extensions.queues.messageEncoding` is "base64" (default: the stored text is base64
of the body) or "none" (stored text is the body). We read and write raw text and do the
encoding here, so an undecodable message can be moved to the poison queue unchanged, as the
extension's MessageDecodingFailed handler does.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import azure.functions as func
from azure.functions import _queue as functions_queue
from azure.functions.queue import QueueMessage


class MessageDecodingError(ValueError):
    """The stored text is not valid for the configured encoding."""


class OutputValueError(TypeError):
    """A queue output binding got a value the worker cannot send."""


def decode_body(text: str, encoding: str) -> bytes:
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MessageDecodingError("message is not valid base64 (host.json messageEncoding is 'base64')") from None


def encode_body(body: bytes, encoding: str) -> str:
    if encoding == "none":
        return body.decode("utf-8")
    return base64.b64encode(body).decode("ascii")


def trigger_message(
    body: bytes,
    *,
    id: str | None = None,
    dequeue_count: int | None = None,
    insertion_time: datetime | None = None,
    expiration_time: datetime | None = None,
    time_next_visible: datetime | None = None,
    pop_receipt: str | None = None,
) -> QueueMessage:
    """The QueueMessage a queue-triggered function receives (the worker's own class)."""
    return QueueMessage(
        id=id or str(uuid.uuid4()),
        body=body,
        dequeue_count=dequeue_count,
        insertion_time=insertion_time,
        expiration_time=expiration_time,
        time_next_visible=time_next_visible,
        pop_receipt=pop_receipt,
    )


def trigger_argument(message: QueueMessage, annotation: Any) -> Any:
    """`msg: str` / `msg: bytes` get the body; anything else the QueueMessage, as in the worker."""
    if annotation in (str, "str"):
        return message.get_body().decode("utf-8")
    if annotation in (bytes, "bytes"):
        return message.get_body()
    return message


def output_bodies(value: Any) -> list[bytes]:
    """Bodies to enqueue for an output binding value: str, bytes, QueueMessage or a list of them."""
    if isinstance(value, str):
        return [value.encode("utf-8")]
    if isinstance(value, (bytes, bytearray)):
        return [bytes(value)]
    if isinstance(value, (func.QueueMessage, functions_queue.QueueMessage)):
        return [value.get_body()]
    if isinstance(value, Iterable) and not isinstance(value, dict):
        bodies: list[bytes] = []
        for item in value:
            if isinstance(item, (bytes, bytearray)) or (isinstance(item, Iterable) and not isinstance(item, str)):
                raise OutputValueError(f"invalid data type in output queue message list: {type(item).__name__}")
            bodies += output_bodies(item)
        return bodies
    raise OutputValueError(f"a queue output binding cannot send a {type(value).__name__}")
