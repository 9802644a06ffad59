"""Webhook targets from the WEBHOOK_URL app setting, and the one way a webhook URL is shown.

Slack and Teams URLs carry their secret in the path, so anything shown (logs, errors, delivery
records) is the scheme and host alone (`redact`). Pure: no I/O, no settings import.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from shared.loopback import LOOPBACK_HOSTS


class WebhookFormat(StrEnum):
    JSON = "json"
    SLACK = "slack"
    TEAMS = "teams"
    CLOUDEVENTS = "cloudevents"


@dataclass(frozen=True)
class WebhookTarget:
    format: WebhookFormat
    url: str = field(repr=False)  # never printed: its path may be the secret

    @property
    def shown(self) -> str:
        return redact(self.url)

    @property
    def key(self) -> str:
        """Stable and secret-free: tells the targets apart in delivery ids."""
        return hashlib.sha256(f"{self.format}|{self.url}".encode()).hexdigest()[:8]


def redact(url: str) -> str:
    """Scheme and host (and port) only: Slack/Teams keep their secret in the path."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
    except ValueError:
        return "<invalid URL>"


def parse_targets(raw: str) -> tuple[WebhookTarget, ...]:
    """`[format+]URL` entries separated by commas or whitespace, e.g.
    `slack+https://hooks.slack.com/services/...,https://example.com/hook` (format defaults to json).
    Raises ValueError naming the entry by its shown form, never its secret path."""
    targets = []
    for entry in raw.replace(",", " ").split():
        head, plus, rest = entry.partition("+")
        fmt, url = (head.lower(), rest) if plus and "://" not in head else ("json", entry)
        if fmt not in set(WebhookFormat):
            raise ValueError(f"unknown webhook format {head[:20]!r}; use one of {', '.join(WebhookFormat)}")
        _check_url(url)
        targets.append(WebhookTarget(WebhookFormat(fmt), url))
    return tuple(targets)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise ValueError(f"webhook URL {redact(url)} is not a URL") from None
    if not url.isascii():  # http.client writes the request line in ASCII: it could never be sent
        raise ValueError(f"webhook URL {redact(url)} must be ASCII (percent-encode its path and query)")
    if not host or parts.username or parts.password:
        raise ValueError(f"webhook URL {redact(url)} must have a host and no user or password")
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return
    raise ValueError(f"webhook URL {redact(url)} must be https (http only for a loopback address)")
