"""Queue triggers and queue output bindings against a real Azurite, via the host subprocess."""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from .support import WORK_QUEUE, Azurite, HostProcess, SampleApp, wait_until

pytestmark = pytest.mark.timeout(60)

POISON_QUEUE = f"{WORK_QUEUE}-poison"


@dataclass(frozen=True)
class QueueWorld:
    """The running sample host plus direct access to its queues in Azurite."""

    host: HostProcess
    app: SampleApp
    azurite: Azurite

    def queue(self, name: str = WORK_QUEUE) -> QueueClient:
        return QueueClient.from_connection_string(self.azurite.connection_string, name)

    def texts(self, name: str) -> list[str]:
        """Stored texts of the visible messages (raw: base64 stays base64)."""
        try:
            return [m.content for m in self.queue(name).peek_messages(max_messages=32)]
        except ResourceNotFoundError:
            return []

    def runs_with_body(self, body: str) -> list[dict[str, object]]:
        return [r for r in self.app.records("work") if r["body"] == body]


@pytest.fixture
def world(sample_host: HostProcess, sample_app: SampleApp, azurite: Azurite) -> QueueWorld:
    return QueueWorld(sample_host, sample_app, azurite)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_message_is_processed_then_deleted(world: QueueWorld) -> None:
    body = unique("hello")
    sent = world.queue().send_message(b64(body))  # base64, as the Functions host expects by default
    (seen,) = wait_until(lambda: world.runs_with_body(body), 10, "message never processed")  # type: ignore[misc]
    assert seen["id"] == sent.id
    assert seen["dequeue_count"] == 1
    assert seen["pop_receipt"]
    assert seen["insertion_time"] and seen["expiration_time"]
    wait_until(lambda: b64(body) not in world.texts(WORK_QUEUE), 5, "message not deleted after success")


def test_failing_message_is_retried_then_poisoned(world: QueueWorld) -> None:
    body = unique("fail")
    world.queue().send_message(b64(body))
    wait_until(lambda: b64(body) in world.texts(POISON_QUEUE), 15, "message never reached the poison queue")
    assert [r["dequeue_count"] for r in world.runs_with_body(body)] == [1, 2, 3]  # host.json maxDequeueCount: 3
    assert b64(body) not in world.texts(WORK_QUEUE)
    expected_log = f"Message has reached MaxDequeueCount of 3. Moving message to queue '{POISON_QUEUE}'."
    assert expected_log in world.host.logs()


def test_undecodable_message_goes_straight_to_poison(world: QueueWorld) -> None:
    raw = unique("not base64") + "!"
    world.queue().send_message(raw)
    wait_until(lambda: raw in world.texts(POISON_QUEUE), 10, "undecodable message not poisoned")
    assert not world.runs_with_body(raw)


def test_output_binding_enqueues_for_the_trigger(world: QueueWorld) -> None:
    body = unique("via-output")
    response = requests.post(world.host.url + "/api/enqueue", data=body.encode(), timeout=10)
    assert response.status_code == 202
    wait_until(lambda: world.runs_with_body(body), 10, "output binding message never processed")


def test_admin_endpoint_runs_a_queue_function(world: QueueWorld) -> None:
    body = unique("from-admin")
    response = requests.post(world.host.url + "/admin/functions/work_queue", json={"input": body}, timeout=10)
    assert response.status_code == 202
    runs = wait_until(lambda: world.runs_with_body(body), 5, "admin-run queue function never ran")
    assert [r["dequeue_count"] for r in runs] == [0]  # type: ignore[union-attr]
