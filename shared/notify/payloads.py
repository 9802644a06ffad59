"""The body of a webhook request in each format, pure. Every format carries the event id as its
idempotency key (CloudEvents `id`; `idempotencyKey` or a visible fact elsewhere), and every
attempt of a delivery sends the same body."""
from __future__ import annotations

import json

from shared.notify.targets import WebhookFormat

CLOUDEVENTS_TYPE_PREFIX = "io.certsync."
SOURCE = "/certsync"
_TITLES = {
    "certificate.issued": "Certificate issued",
    "certificate.renewed": "Certificate renewed",
    "certificate.rekeyed": "Certificate rekeyed",
    "certificate.revoked": "Certificate revoked",
    "certificate.renewalFailed": "Renewal failed",
    "certificate.expiring": "Certificate expiring",
    "sync.failed": "Sync failed",
    "link.outOfSync": "Link out of sync",
}


def render(fmt: WebhookFormat, event: dict) -> tuple[bytes, str]:
    """(body, Content-Type) of `event` (shared.notify.events.Event.as_dict) in `fmt`."""
    if fmt is WebhookFormat.CLOUDEVENTS:
        return _dump(cloudevent(event)), "application/cloudevents+json; charset=utf-8"
    if fmt is WebhookFormat.SLACK:
        return _dump(slack(event)), "application/json"
    if fmt is WebhookFormat.TEAMS:
        return _dump(teams(event)), "application/json"
    return _dump({"idempotencyKey": event["id"], **event}), "application/json"


def cloudevent(event: dict) -> dict:
    """CloudEvents 1.0, structured content mode (JSON format)."""
    return {
        "specversion": "1.0",
        "id": event["id"],
        "source": SOURCE,
        "type": CLOUDEVENTS_TYPE_PREFIX + event["type"],
        "subject": event["subject"],
        "time": event["time"],
        "datacontenttype": "application/json",
        "data": event["data"],
    }


def summary(event: dict) -> str:
    """One line a person reads in a chat channel."""
    title = _TITLES.get(event["type"], event["type"])
    data = event.get("data", {})
    details = [f"{key}: {_short(value)}" for key, value in data.items() if key in _SHOWN]
    return f"{title}: {event['subject']}" + (f" ({'; '.join(details)})" if details else "")


_SHOWN = ("notAfter", "error", "nextAttemptAt", "outOfSyncSince", "state", "thumbprint")


def _short(value: object) -> str:
    if isinstance(value, dict) and "code" in value:
        return f"{value['code']}: {value.get('message', '')}"[:300]
    return str(value)[:300]


def slack(event: dict) -> dict:
    """A Slack incoming-webhook message: text plus a context line with the event id."""
    text = summary(event)
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"event {event['id']} ({event['type']})"}]},
        ],
        "idempotencyKey": event["id"],
    }


def teams(event: dict) -> dict:
    """A Teams incoming-webhook MessageCard; the event id is one of its facts."""
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": summary(event),
        "title": _TITLES.get(event["type"], event["type"]),
        "text": summary(event),
        "sections": [
            {"facts": [{"name": "Event id", "value": event["id"]}, {"name": "Event type", "value": event["type"]},
                       {"name": "Subject", "value": event["subject"]}, {"name": "Time", "value": event["time"]}]}
        ],
        "idempotencyKey": event["id"],
    }


def _dump(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
