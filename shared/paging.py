"""Paging the Azure way: a page of items and an opaque continuation token for the next one.

The token wraps Table Storage's next PartitionKey/RowKey; it comes back from the client, so it
is decoded strictly and any other value is a 400, never a query.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shared.errors import BadRequest

T = TypeVar("T")
MAX_TOKEN = 2048


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_token: str | None = None  # None: this is the last page


def encode_token(position: dict[str, str] | None) -> str | None:
    """Table Storage's continuation ({"PartitionKey", "RowKey"}) as a URL-safe string."""
    if not position:
        return None
    raw = json.dumps([position.get("PartitionKey") or "", position.get("RowKey") or ""], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str | None) -> dict[str, str] | None:
    if token is None:
        return None
    invalid = BadRequest("$skipToken is not a token this API handed out", code="InvalidSkipToken")
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
        raise invalid
    try:
        keys = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise invalid from None
    if not (isinstance(keys, list) and len(keys) == 2 and all(isinstance(k, str) for k in keys) and any(keys)):
        raise invalid
    return {"PartitionKey": keys[0], "RowKey": keys[1]}


def page_size(raw: str | None, default: int, maximum: int) -> int:
    """$top: how many items a page holds at most (Table Storage may hand back fewer)."""
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"$top must be a whole number from 1 to {maximum}", code="InvalidTop")
    return int(raw)
