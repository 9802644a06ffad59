"""In-memory operation queue (shared.ports.OperationQueue): base64-free JSON bodies as the
worker parses them, delayed messages invisible until their time, at-least-once delivery."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.clock import utcnow
from shared.errors import DependencyError
from shared.queueing import message_body


@dataclass
class Message:
    body: str
    visible_at: datetime
    dequeue_count: int = 0


class FakeQueue:
    def __init__(self, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock
        self.messages: list[Message] = []
        self.down = False

    def enqueue(self, operation_id: str, *, delay_seconds: int = 0, trace: Mapping[str, str] | None = None) -> None:
        if self.down:
            raise DependencyError("queue certsync-operations failed: ServiceRequestError")
        body = message_body(operation_id, trace)
        self.messages.append(Message(body, self.clock() + timedelta(seconds=delay_seconds)))

    def receive(self, *, ignore_delay: bool = False) -> Message | None:
        """The oldest visible message, left in the queue until `complete` (at-least-once)."""
        now = self.clock()
        for message in self.messages:
            if ignore_delay or message.visible_at <= now:
                message.dequeue_count += 1
                return message
        return None

    def complete(self, message: Message) -> None:
        self.messages.remove(message)

    def close(self) -> None:
        pass
