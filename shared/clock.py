"""One place for "now" and for writing instants, so tests, decisions and the API agree on UTC."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(value: datetime | None) -> str | None:
    """UTC instants as the API shows them: ISO 8601 with a Z."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the Unix epoch (operation ids sort by it)."""
    return int(value.timestamp() * 1000)
