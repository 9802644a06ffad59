"""List paging as Key Vault does it: maxresults 1..25 and an absolute nextLink.

The skiptoken is an opaque continuation marker (the last key returned), so secrets added
or removed between pages neither repeat nor shift entries the way an offset would.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from devtools.kv_emulator.errors import BadParameter
from devtools.kv_emulator.protocol import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_marker: str | None


def page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise BadParameter.invalid_maxresults(raw) from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadParameter.invalid_maxresults(raw)
    return size


def encode_skiptoken(marker: str) -> str:
    document = json.dumps({"NextMarker": marker, "TargetLocation": 0}, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode("utf-8")).decode("ascii").rstrip("=")


def decode_skiptoken(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        marker = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))["NextMarker"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError, RecursionError):
        raise BadParameter("The skiptoken parameter is invalid.") from None
    if not isinstance(marker, str):
        raise BadParameter("The skiptoken parameter is invalid.")
    return marker


def take_page(items: Sequence[T], key: Callable[[T], str], size: int, after: str | None) -> Page[T]:
    """Items whose key sorts after `after`; keys must be strictly increasing in `items`."""
    remaining = [item for item in items if after is None or key(item) > after]
    chosen = remaining[:size]
    more = len(remaining) > size
    return Page(items=chosen, next_marker=key(chosen[-1]) if more and chosen else None)


def next_link(base_url: str, path: str, api_version: str, marker: str | None, size: int) -> str | None:
    if marker is None:
        return None
    return f"{base_url}{path}?api-version={api_version}&$skiptoken={encode_skiptoken(marker)}&maxresults={size}"
