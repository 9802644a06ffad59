"""One error type per failure kind; functions/ maps each to an HTTP status once, and
`classify` decides once, for every caller, whether a failure is worth another try.

Messages are shown to callers and written to operation records, so they must never carry
secret material (keys, PFX bytes, passwords, tokens).
"""
from __future__ import annotations

from enum import StrEnum


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


class Contended(CertsyncError):
    """Others kept writing the rows a request reads and checks, through every bounded retry:
    nothing was changed. Answered to a request without If-Match instead of a 412, which would
    blame a precondition the caller never set."""

    status = 503
    code = "Contended"
    retry_after = 1


class DependencyError(CertsyncError):
    """Key Vault, Table Storage, a queue or DNS failed. `upstream_status` is the dependency's
    own HTTP status when it answered (None: it could not be reached)."""

    status = 503
    code = "DependencyUnavailable"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.upstream_status = upstream_status


class IssuerError(DependencyError):
    """The CA refused or failed an order."""

    code = "IssuerFailed"


class ServiceNotConfigured(CertsyncError):
    """An app setting is missing or malformed: found at start, answered on every request."""

    status = 503
    code = "ConfigurationError"


class Retry(StrEnum):
    """What another try of the same work can achieve."""

    REDELIVER = "redeliver"  # an outage: the same message again soon may well succeed
    LATER = "later"  # an answer, not an outage: stop now, try again after a backoff
    NEVER = "never"  # the dependency refused what we sent: the same request fails again, forever


# 408 (timeout), 425 (too early) and 429 (throttled) are outages that pass; any other 4xx is an answer.
_TRANSIENT_4XX = frozenset({408, 425, 429})
# The dependency refused the content itself (too large, malformed): repeating it cannot help.
_REFUSED_CONTENT = frozenset({400, 413, 414, 422})


def classify(err: BaseException) -> Retry:
    """The one retry classification: the operation engine, the certificate state machine and
    callers of dependencies all ask this, never isinstance chains of their own."""
    if isinstance(err, IssuerError):
        return Retry.LATER  # the CA answered; its order or rate limit will not change in seconds
    if isinstance(err, DependencyError):
        status = err.upstream_status
        if status is None or status >= 500 or status in _TRANSIENT_4XX:
            return Retry.REDELIVER
        return Retry.NEVER if status in _REFUSED_CONTENT else Retry.LATER
    if isinstance(err, CertsyncError):
        return Retry.LATER
    return Retry.REDELIVER  # a bug or a library's surprise: let the host try again, then record it


def is_retryable(err: BaseException) -> bool:
    return classify(err) is Retry.REDELIVER
