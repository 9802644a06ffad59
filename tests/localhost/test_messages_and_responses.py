"""Queue message encoding, polling backoff and HTTP response shaping (pure, no host)."""
from __future__ import annotations

from datetime import timedelta

import azure.functions as func
import pytest

from devtools.local_host.http_front import response_reply
from devtools.local_host.queue_listener import Backoff, poison_queue_name
from devtools.local_host.queue_messages import (
    MessageDecodingError,
    OutputValueError,
    decode_body,
    encode_body,
    output_bodies,
    trigger_argument,
    trigger_message,
)
from devtools.local_host.storage import ConnectionSettingError, create_service_client, development_storage_connection


@pytest.mark.parametrize(
    ("text", "encoding", "body"),
    [
        ("aGVsbG8=", "base64", b"hello"),
        ("hello", "none", b"hello"),
        ("", "base64", b""),
        ("héllo", "none", "héllo".encode()),
    ],
)
def test_decode_and_encode_round_trip(text: str, encoding: str, body: bytes) -> None:
    assert decode_body(text, encoding) == body
    assert encode_body(body, encoding) == text


@pytest.mark.parametrize("text", ["hello world", "not-base64!", "héllo", "YQ"])
def test_undecodable_base64(text: str) -> None:
    with pytest.raises(MessageDecodingError):
        decode_body(text, "base64")


@pytest.mark.parametrize(
    ("value", "bodies"),
    [
        ("text", [b"text"]),
        (b"\x00\x01", [b"\x00\x01"]),
        (func.QueueMessage(body="qm"), [b"qm"]),
        (["a", func.QueueMessage(body="b")], [b"a", b"b"]),
        ([], []),
    ],
)
def test_output_binding_values(value: object, bodies: list[bytes]) -> None:
    assert output_bodies(value) == bodies


@pytest.mark.parametrize("value", [{"a": 1}, 42, [b"bytes in a list"], [["nested"]]])
def test_output_binding_rejects_what_the_worker_rejects(value: object) -> None:
    with pytest.raises(OutputValueError):
        output_bodies(value)


def test_trigger_argument_follows_the_annotation() -> None:
    message = trigger_message(b"body", id="1", dequeue_count=2, pop_receipt="r")
    assert trigger_argument(message, str) == "body"
    assert trigger_argument(message, "bytes") == b"body"
    received = trigger_argument(message, func.QueueMessage)
    assert (received.id, received.get_body(), received.dequeue_count, received.pop_receipt) == ("1", b"body", 2, "r")


@pytest.mark.parametrize(
    ("queue", "poison"),
    [("work", "work-poison"), ("work-poison", None), ("q" * 56, "q" * 56 + "-poison"), ("q" * 57, None)],
)
def test_poison_queue_names(queue: str, poison: str | None) -> None:
    assert poison_queue_name(queue) == poison


def test_backoff_grows_to_the_maximum_and_resets_on_work() -> None:
    backoff = Backoff(timedelta(seconds=2), rand=lambda: 0.5)  # spread factor exactly 1.0
    delays = [backoff.next_delay(False) for _ in range(8)]
    assert delays[0] == pytest.approx(0.1)
    assert delays == sorted(delays)
    assert delays[-1] == 2.0
    assert backoff.next_delay(True) == pytest.approx(0.1)


def test_development_storage_and_missing_connections() -> None:
    default = development_storage_connection("UseDevelopmentStorage=true")
    assert "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1" in default
    proxied = development_storage_connection("UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://host.docker")
    assert "QueueEndpoint=http://host.docker:10001/devstoreaccount1" in proxied
    client = create_service_client("Storage", {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert client.url.startswith("http://127.0.0.1:10001/devstoreaccount1")
    # "AzureWebJobsStorage" reads AzureWebJobsAzureWebJobsStorage first, then AzureWebJobsStorage itself.
    assert create_service_client("AzureWebJobsStorage", {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    with pytest.raises(ConnectionSettingError, match="AzureWebJobsMissing"):
        create_service_client("Missing", {})


@pytest.mark.parametrize(
    ("response", "status", "content_type", "body"),
    [
        (func.HttpResponse("hi"), 200, "text/plain; charset=utf-8", b"hi"),
        (func.HttpResponse("{}", mimetype="application/json"), 200, "application/json", b"{}"),
        (func.HttpResponse("x", mimetype="text/csv", charset="latin-1"), 200, "text/csv; charset=latin-1", b"x"),
        (func.HttpResponse(status_code=204), 204, "text/plain; charset=utf-8", b""),
        (func.HttpResponse("x", headers={"content-type": "image/png"}), 200, "image/png", b"x"),
        ("plain string", 200, "text/plain; charset=utf-8", b"plain string"),
    ],
)
def test_response_shapes(response: object, status: int, content_type: str, body: bytes) -> None:
    reply = response_reply(response)
    headers = {k.lower(): v for k, v in reply.headers}
    assert (reply.status, headers["content-type"], reply.body) == (status, content_type, body)


def test_repeated_response_headers_survive() -> None:
    response = func.HttpResponse("x")
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    assert [v for k, v in response_reply(response).headers if k == "Set-Cookie"] == ["a=1", "b=2"]


@pytest.mark.parametrize("value", [None, b"bytes", {"a": 1}, func.HttpResponse("x", status_code=999)])
def test_unusable_return_values(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        response_reply(value)
