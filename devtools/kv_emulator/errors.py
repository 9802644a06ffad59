"""Key Vault errors: one class per failure kind, each knowing its real status and code.

The body shape `{"error": {"code", "message", "innererror"?}}` is what the SDK parses into
`HttpResponseError.error`; messages copy real Key Vault wording where it is known.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from devtools.kv_emulator.protocol import LATEST_API_VERSION, MAX_PAGE_SIZE, MAX_SECRET_VALUE_CHARS

_NOT_FOUND_HINT = (
    "If you recently deleted this secret you may be able to recover it using the correct "
    "recovery command. For help resolving this issue, please see "
    "https://go.microsoft.com/fwlink/?linkid=2125182"
)


class KeyVaultError(Exception):
    """A failure answered with Key Vault's error body; never carries secret values."""

    status: int = 500
    code: str = "InternalServerError"

    def __init__(
        self,
        message: str,
        *,
        inner_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.inner_code = inner_code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner_code:
            error["innererror"] = {"code": self.inner_code}
        return {"error": error}


class BadParameter(KeyVaultError):
    status = 400
    code = "BadParameter"

    @classmethod
    def invalid_name(cls, name: str) -> BadParameter:
        return cls(f"The request URI contains an invalid name: {name}")

    @classmethod
    def unsupported_api_version(cls, version: str | None) -> BadParameter:
        return cls(
            f"The specified version ({version or ''}) is not recognized. "
            f"Consider using the latest supported version ({LATEST_API_VERSION})."
        )

    @classmethod
    def invalid_maxresults(cls, raw: str) -> BadParameter:
        return cls(f"Invalid value for maxresults: {raw}. It must be between 1 and {MAX_PAGE_SIZE}.")

    @classmethod
    def corrupt_backup(cls) -> BadParameter:
        # Guess: the wording of Key Vault's refusal of a backup blob it cannot read.
        return cls("Backup blob contains invalid or corrupt version.")

    @classmethod
    def secret_too_large(cls) -> BadParameter:
        return cls(
            f"Secret is beyond the maximum permitted length of {MAX_SECRET_VALUE_CHARS} characters.",
            inner_code="SecretTooLarge",
        )


class Unauthorized(KeyVaultError):
    status = 401
    code = "Unauthorized"

    @classmethod
    def missing_token(cls, challenge: str) -> Unauthorized:
        return cls(
            "AKV10000: Request is missing a Bearer or PoP token.",
            headers={"WWW-Authenticate": challenge},
        )


class Forbidden(KeyVaultError):
    status = 403
    code = "Forbidden"

    @classmethod
    def disabled_secret(cls, operation: str = "get") -> Forbidden:
        return cls(f"Operation {operation} is not allowed on a disabled secret.", inner_code="SecretDisabled")


class SecretNotFound(KeyVaultError):
    status = 404
    code = "SecretNotFound"

    @classmethod
    def active(cls, name: str, version: str | None = None) -> SecretNotFound:
        ident = f"{name}/{version}" if version else name
        return cls(f"A secret with (name/id) {ident} was not found in this key vault. {_NOT_FOUND_HINT}")

    @classmethod
    def deleted(cls, name: str) -> SecretNotFound:
        return cls(f"Deleted Secret not found: {name}")


class NotFound(KeyVaultError):
    """A path outside the Secrets API (keys, certificates, typos)."""

    status = 404
    code = "NotFound"


class MethodNotAllowed(KeyVaultError):
    status = 405
    code = "MethodNotAllowed"

    @classmethod
    def for_method(cls, method: str, allowed: list[str]) -> MethodNotAllowed:
        return cls(
            f"The requested resource does not support http method '{method}'.",
            headers={"Allow": ", ".join(sorted(allowed))},
        )


class Conflict(KeyVaultError):
    status = 409
    code = "Conflict"

    @classmethod
    def deleted_but_recoverable(cls, name: str) -> Conflict:
        return cls(
            f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be "
            "reused; in this state, the secret can only be recovered or purged.",
            inner_code="ObjectIsDeletedButRecoverable",
        )

    @classmethod
    def restore_over_existing(cls, name: str) -> Conflict:
        # Guess: the wording of Key Vault's refusal to restore over a name that is in use or soft-deleted.
        return cls(f"Secret {name} could not be restored because a secret with the same name already exists or is "
                   "in a deleted state; delete and purge it first.")


class PayloadTooLarge(KeyVaultError):
    status = 413
    code = "RequestEntityTooLarge"


class NotImplementedByEmulator(KeyVaultError):
    """Real Key Vault supports it; this emulator deliberately does not (say so plainly)."""

    status = 501
    code = "NotImplemented"


_FAULT_WORDING: dict[int, tuple[str, str]] = {
    429: (
        "Throttled",
        "Request was not processed because too many requests were received. Reason: fault injected by the emulator.",
    ),
    500: ("InternalServerError", "An internal server error occurred (fault injected by the emulator)."),
    502: ("BadGateway", "Bad gateway (fault injected by the emulator)."),
    503: (
        "ServiceUnavailable",
        "The service is temporarily unavailable; retry later (fault injected by the emulator).",
    ),
    504: ("GatewayTimeout", "The request timed out (fault injected by the emulator)."),
}


class InjectedFault(KeyVaultError):
    """A failure asked for through /_emulator/faults; status decided at runtime."""

    def __init__(self, status: int, retry_after: int | None) -> None:
        code, message = _FAULT_WORDING.get(status) or _generic_wording(status)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        super().__init__(message, headers=headers)
        self.status = status
        self.code = code


def _generic_wording(status: int) -> tuple[str, str]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status Python has no name for, e.g. 599
        return "Error", f"HTTP {status} (fault injected by the emulator)."
    return "".join(ch for ch in phrase.title() if ch.isalnum()), f"{phrase} (fault injected by the emulator)."
