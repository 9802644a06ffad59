"""Notifications end to end on the fakes, delivered over HTTP to a real receiver on a free
loopback port: each event in each format, retries until a receiver recovers (each event accepted
exactly once), a failed delivery record when it never does, and no secret path anywhere."""
from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from shared.clock import utcnow
from shared.errors import DependencyError
from shared.lifecycle import start_renewal
from shared.model import DeliveryStatus, OperationKind, OperationStatus
from shared.notify import delivery as delivery_module
from shared.notify.events import Event, EventType, event_id, record
from shared.notify.watch import run_watch
from shared.sync.handlers import start_certificate_sync
from tests.fakes.context import Fakes, deliver_one, drain, fake_context
from tests.service.conftest import issued, linked_and_bound, upload_version
from tests.webhook_receiver import Receiver, webhook_receiver

SECRET = "T000/B000/XXXXsecretXXXX"
FORMATS = ("json", "slack", "teams", "cloudevents")


def keyed(received) -> str:
    """The idempotency key a receiver reads from each format's body."""
    body = received.body
    if "specversion" in body:
        return body["id"]
    return body["idempotencyKey"]


def event_type(received) -> str:
    body = received.body
    if "specversion" in body:
        return body["type"].removeprefix("io.certsync.")
    if body.get("@type") == "MessageCard":
        return next(f["value"] for f in body["sections"][0]["facts"] if f["name"] == "Event type")
    if "blocks" in body:
        return body["blocks"][1]["elements"][0]["text"].split("(")[1].rstrip(")")
    return body["type"]


def with_webhooks(receiver: Receiver, *formats: str) -> Fakes:
    urls = ",".join(f"{fmt}+{receiver.base_url}/{fmt}/{SECRET}" for fmt in formats)
    return fake_context(WEBHOOK_URL=urls, WEBHOOK_OUT_OF_SYNC_MINUTES="30", WEBHOOK_EXPIRY_DAYS="10")


def test_every_event_reaches_the_receiver_in_every_format():
    with webhook_receiver() as receiver:
        fakes = with_webhooks(receiver, *FORMATS)
        now = utcnow()
        for n, kind in enumerate(EventType):
            record(fakes.ctx, Event(event_id(now, str(n)), kind, "www", now, {"notAfter": "2027-01-01T00:00:00Z"}))
        drain(fakes)
    seen = {(r.path.split("/")[1], event_type(r)) for r in receiver.accepted()}
    assert seen == {(fmt, kind.value) for fmt in FORMATS for kind in EventType}
    cloud = next(r for r in receiver.accepted("/cloudevents"))
    assert cloud.headers["Content-Type"].startswith("application/cloudevents+json")
    assert {"specversion", "id", "source", "type", "time", "subject", "data"} <= set(cloud.body)
    assert cloud.body["specversion"] == "1.0"
    slack = next(r for r in receiver.accepted("/slack"))
    assert slack.body["text"].startswith(("Certificate", "Renewal", "Sync", "Link"))
    assert all(r.headers["Idempotency-Key"] == keyed(r) for r in receiver.requests)


def test_lifecycle_sync_and_watch_events_are_sent_once_each():
    with webhook_receiver() as receiver:
        fakes = with_webhooks(receiver, "json")
        cert = issued(fakes, "shop")
        for kind in (OperationKind.RENEW, OperationKind.REKEY):
            start_renewal(fakes.ctx, "shop", kind, {})
            drain(fakes)
        refused = DependencyError("Key Vault refused", code="Forbidden", upstream_status=403)
        fakes.hooks.on("before:vault.set_secret", lambda *_: (_ for _ in ()).throw(refused))
        start_renewal(fakes.ctx, "shop", OperationKind.RENEW, {})
        drain(fakes)
        linked_and_bound(fakes, fakes.ctx.certificates.get("shop"), "shop-link")
        drain(fakes)
        upload_version(fakes, cert.secret_name, hostnames=("other.example.com",))  # cannot serve www
        start_certificate_sync(fakes.ctx, "shop")
        drain(fakes)
        later = fakes.ctx.certificates.get("shop").not_after - timedelta(days=3)
        first, second = run_watch(fakes.ctx, later), run_watch(fakes.ctx, later + timedelta(hours=1))
        drain(fakes)
    kinds = Counter(r.body["type"] for r in receiver.accepted())
    assert kinds == {"certificate.issued": 1, "certificate.renewed": 1, "certificate.rekeyed": 1,
                     "certificate.renewalFailed": 1, "sync.failed": 1, "certificate.expiring": 1,
                     "link.outOfSync": 1}  # its sync failed days before `later`
    failed = next(r.body for r in receiver.accepted() if r.body["type"] == "certificate.renewalFailed")
    assert failed["data"]["error"]["code"] == "Forbidden" and failed["data"]["nextAttemptAt"]
    assert first.expiring == ["shop"] and second.expiring == []  # notified once, not every run


def test_a_link_out_of_sync_longer_than_the_threshold_is_notified_once():
    with webhook_receiver() as receiver:
        fakes = with_webhooks(receiver, "cloudevents")
        cert = issued(fakes, "api")
        linked_and_bound(fakes, cert, "api-link")
        drain(fakes)
        behind = fakes.ctx.links.get("api-link")
        behind.thumbprint, behind.version = "0" * 40, "old"
        fakes.ctx.links.save(behind)
        since = fakes.ctx.certificates.get("api").secret_updated_on
        early = run_watch(fakes.ctx, since + timedelta(minutes=10))
        late = run_watch(fakes.ctx, since + timedelta(minutes=31))
        again = run_watch(fakes.ctx, since + timedelta(minutes=90))
        drain(fakes)
    assert (early.out_of_sync, late.out_of_sync, again.out_of_sync) == ([], ["api-link"], [])
    [sent] = [r for r in receiver.accepted() if r.body["type"] == "io.certsync.link.outOfSync"]
    assert sent.body["subject"] == "api-link" and sent.body["data"]["state"] in ("Behind", "BindingsBehind")


def test_a_receiver_that_fails_then_recovers_gets_every_event_exactly_once():
    with webhook_receiver(failures=7) as receiver:
        fakes = with_webhooks(receiver, "json", "cloudevents")
        now = utcnow()
        events = [Event(event_id(now, str(n)), EventType.RENEWED, f"c{n}", now, {}) for n in range(3)]
        for event in events:
            record(fakes.ctx, event)
        drain(fakes)
        for op in fakes.ctx.operations.list(kind="deliverWebhook", limit=1000):  # the queue delivers again
            fakes.ctx.queue.enqueue(op.id)
        drain(fakes)
    accepted = Counter((r.path.split("/")[1], keyed(r)) for r in receiver.accepted())
    assert accepted == {(fmt, e.id): 1 for fmt in ("json", "cloudevents") for e in events}
    assert sum(r.status == 500 for r in receiver.requests) == 7
    deliveries = fakes.ctx.deliveries.list()
    assert {d.status for d in deliveries} == {DeliveryStatus.SUCCEEDED}
    assert sum(d.attempts for d in deliveries) == 6 + 7


def test_a_receiver_that_never_recovers_leaves_a_failed_delivery(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with webhook_receiver(failures=-1) as receiver:
        fakes = with_webhooks(receiver, "slack")
        now = utcnow()
        record(fakes.ctx, Event(event_id(now, "x"), EventType.SYNC_FAILED, "shop", now, {}))
        deliver_one(fakes), deliver_one(fakes)  # retrying: a new attempt queued after each 500
        [pending] = fakes.ctx.deliveries.list()
        assert pending.status is DeliveryStatus.PENDING and pending.attempts >= 2
        monkeypatch.setattr(delivery_module, "utcnow", lambda: now + timedelta(hours=24, minutes=1))
        drain(fakes)
    [failed] = fakes.ctx.deliveries.list()
    assert failed.status is DeliveryStatus.FAILED and failed.last_error == "HTTP 500"
    assert failed.attempts == len(receiver.requests) and failed.next_attempt_at is None
    assert failed.webhook == receiver.base_url
    ops = fakes.ctx.operations.list(kind="deliverWebhook", limit=1000)
    assert ops[0].error_code == "DeliveryFailed" and ops[0].status is OperationStatus.FAILED
    shown = caplog.text + repr(failed) + "".join(op.error_message for op in ops)
    assert "XXXXsecretXXXX" not in shown and "T000" not in shown


def test_a_delivery_never_queued_is_queued_by_the_watch():
    with webhook_receiver() as receiver:
        fakes = with_webhooks(receiver, "teams")
        fakes.queue.down = True
        now = utcnow()
        record(fakes.ctx, Event(event_id(now, "q"), EventType.ISSUED, "shop", now, {}))
        fakes.queue.down = False
        assert run_watch(fakes.ctx, now + timedelta(minutes=5)).resumed == []
        assert len(run_watch(fakes.ctx, now + timedelta(minutes=20)).resumed) == 1
        drain(fakes)
    assert len(receiver.accepted("/teams")) == 1
    assert fakes.ctx.deliveries.list()[0].status is DeliveryStatus.SUCCEEDED


def test_recording_an_event_again_sends_nothing_twice():
    with webhook_receiver() as receiver:
        fakes = with_webhooks(receiver, "json")
        now = utcnow()
        event = Event(event_id(now, "same"), EventType.EXPIRING, "shop", now, {})
        recorded = [record(fakes.ctx, event) for _ in range(2)]
        drain(fakes)
    assert [len(r) for r in recorded] == [1, 0]
    assert len(receiver.accepted()) == 1
