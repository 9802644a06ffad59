"""Log hygiene: the operation id on every line of an operation's work, secret material redacted.

`install` (called once by the composition root) puts one filter on the root logger's handlers;
it rewrites each record before any formatter sees it, tracebacks included, so an unexpected
error can be logged with its traceback without a key, PFX, password or token reaching the log.
"""
from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

current_operation: ContextVar[str] = ContextVar("certsync_operation", default="")

REDACTED = "[redacted]"
_SECRET_PATTERNS = (
    re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|\Z)", re.DOTALL),  # PEM keys/certs
    re.compile(r"(?i)\b(AccountKey|SharedAccessSignature|sig|password|passwd|secret|client_secret|token)"
               r"(\s*[=:]\s*['\"]?)[^\s;'\",&]+"),  # key=value credentials
    re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]+"),  # HTTP bearer tokens
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"[A-Za-z0-9+/]{120,}={0,2}"),  # long base64 runs: PFX bytes, DER keys
    re.compile(r"b'(?:\\.|[^'\\]){16,}'|b\"(?:\\.|[^\"\\]){16,}\""),  # bytes shown by repr()
    re.compile(r"(?i)([?&]code=|\bx-functions-key)(['\"]?\s*[=:]?\s*['\"]?)[^\s;'\",&]+"),  # function keys
    # Webhook URLs that are their own secret (Slack, Teams): scheme and host are kept, the path is not.
    re.compile(r"(?i)\b(https?://(?:hooks\.slack\.com|[\w.-]*webhook\.office\.com|outlook\.office\.com))()/[^\s'\"]*"),
)


def redact(text: str) -> str:
    """Replace anything shaped like secret material; keeps the rest of the line readable."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_replacement, text)
    return text


def _replacement(match: re.Match[str]) -> str:
    if match.re.groups >= 2 and match.group(2) is not None and not match.group(0).startswith("-----"):
        return f"{match.group(1)}{match.group(2)}{REDACTED}"
    return REDACTED


class HygieneFilter(logging.Filter):
    """Render, redact and tag a record in place (message, arguments and traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        op_id = current_operation.get()
        record.operation_id = op_id
        if op_id and op_id not in message:
            message = f"[operation {op_id}] {message}"
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = HygieneFilter()


def install(root: logging.Logger | None = None) -> None:
    """Filter every handler of the root logger (the Functions worker's included); idempotent."""
    for handler in (root or logging.getLogger()).handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


@contextmanager
def operation_context(op_id: str) -> Iterator[None]:
    """Every line logged inside carries the operation id."""
    token = current_operation.set(op_id)
    try:
        yield
    finally:
        current_operation.reset(token)
