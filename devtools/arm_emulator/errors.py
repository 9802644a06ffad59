"""ARM errors: `{"error": {"code", "message"}}` with the status and code ARM uses.

Codes and wording copy ARM and the Web provider where they are documented; each guessed
wording says so where it is raised.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ArmError(Exception):
    """A failure answered with ARM's error envelope; never carries secret material."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str, code: str = "BadRequest") -> ArmError:
    return ArmError(400, code, message)


def missing_api_version() -> ArmError:
    return ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def unsupported_api_version(version: str, resource_type: str, supported: tuple[str, ...]) -> ArmError:
    return ArmError(
        400,
        "NoRegisteredProviderFound",
        f"No registered resource provider found for location 'global' and API version '{version}' for type "
        f"'{resource_type}'. The supported api-versions are '{', '.join(supported)}'.",
    )


def invalid_subscription(subscription: str) -> ArmError:
    return ArmError(
        400, "InvalidSubscriptionId", f"The provided subscription identifier '{subscription}' is malformed or invalid."
    )


def resource_group_not_found(name: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def resource_not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def no_route(method: str, path: str) -> ArmError:
    # Guess: ARM's wording for a path no provider serves here.
    return ArmError(404, "InvalidResourceType", f"The emulator does not serve {method} {path}.")


def method_not_allowed(method: str, allowed: tuple[str, ...]) -> ArmError:
    return ArmError(
        405,
        "MethodNotAllowed",
        f"The requested resource does not support http method '{method}'.",
        {"Allow": ", ".join(allowed)},
    )


def conflict(message: str, code: str = "Conflict") -> ArmError:
    return ArmError(409, code, message)


def injected(status: int, retry_after: int | None, subscription: str, operation: str) -> ArmError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if status == 429:  # Guess: code and wording as azure-cli users have reported ARM's throttling
        wait = retry_after if retry_after is not None else 1
        kind = "write" if operation.endswith((".put", ".delete", ".patch")) else "read"
        message = (
            f"Number of '{kind}' requests for subscription '{subscription}' actor 'certsync' exceeded. "
            f"Please try again after '{wait}' seconds after additional tokens are available."
        )
        return ArmError(429, "SubscriptionRequestsThrottled", message, headers)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = f"HTTP {status}"
    code = "".join(ch for ch in phrase.title() if ch.isalnum()) or "Error"
    return ArmError(status, code, f"{phrase} (fault injected by the emulator).", headers)
