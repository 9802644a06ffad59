"""One error type per failure kind; functions/ maps each to an HTTP status once.

Messages are shown to callers and written to operation records, so they must never carry
secret material (keys, PFX bytes, passwords, tokens).
"""
from __future__ import annotations


class CertsyncError(Exception):
    """Base: a failure with a stable machine-readable code and a human message."""

    status = 500
    code = "InternalError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class BadRequest(CertsyncError):
    status = 400
    code = "BadRequest"


class Unauthorized(CertsyncError):
    status = 401
    code = "Unauthorized"


class Forbidden(CertsyncError):
    status = 403
    code = "Forbidden"


class NotFound(CertsyncError):
    status = 404
    code = "NotFound"


class Conflict(CertsyncError):
    status = 409
    code = "Conflict"


class UnsupportedMediaType(CertsyncError):
    """A request body that is not JSON (by its Content-Type): refused before it is read."""

    status = 415
    code = "UnsupportedMediaType"


class PreconditionFailed(CertsyncError):
    """An optimistic-concurrency write lost (ETag mismatch); callers usually retry."""

    status = 412
    code = "PreconditionFailed"


class DependencyError(CertsyncError):
    """Key Vault, Table Storage or a CA failed; retryable later."""

    status = 503
    code = "DependencyUnavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class IssuerError(DependencyError):
    """The CA refused or failed an order."""

    code = "IssuerFailed"
