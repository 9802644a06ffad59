"""Counting requests to dependencies, by service and status class, without patching anything:
the Azure SDK clients take our callback as their pipeline's `raw_response_hook` (azure-core's
CustomHookPolicy, which runs for every attempt, retries included), the ACME requests session as a
response hook. The instruments are looked up per response, since start may replace them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core.pipeline import PipelineResponse

from shared import telemetry

KEY_VAULT, TABLE, QUEUE, ARM, ACME = "KeyVault", "Table", "Queue", "ARM", "ACME"


def response_hook(service: str) -> Callable[[PipelineResponse], None]:
    """For an Azure SDK client: `Client(..., raw_response_hook=response_hook(TABLE))`."""

    def hook(response: PipelineResponse) -> None:
        telemetry.instruments().record_dependency(service, response.http_response.status_code)

    return hook


def requests_hook(service: str) -> Callable[..., None]:
    """For a requests session: `session.hooks["response"].append(requests_hook(ACME))`."""

    def hook(response: Any, *_: Any, **__: Any) -> None:
        telemetry.instruments().record_dependency(service, response.status_code)

    return hook
