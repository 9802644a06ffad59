"""Broken HTTP over raw sockets: the host answers 400 (or 413) and never runs the function for a
request it could not read whole, as Kestrel does."""
from __future__ import annotations

import os
import socket
import time

import pytest

from .support import HostProcess, SampleApp

pytestmark = pytest.mark.timeout(60)


def exchange(host: HostProcess, head: str, body: bytes = b"", close_write: bool = False) -> bytes:
    """Send raw bytes, optionally close our sending side, and read until the host closes."""
    with socket.create_connection(("127.0.0.1", host.port), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode("latin-1") + body)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


def ran(app: SampleApp, tag: str) -> bool:
    return any(r["tag"] == tag for r in app.records("record_request"))


def request_head(tag: str, *headers: str) -> str:
    lines = [f"POST /api/record/{tag} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return "\n".join(lines) + "\n\n"


CHUNKED = "Transfer-Encoding: chunked"
MALFORMED_CHUNKS = [
    ("size-not-hex", b"zz\r\nhello\r\n0\r\n\r\n"),
    ("size-empty", b"\r\nhello\r\n0\r\n\r\n"),
    ("size-negative", b"-5\r\nhello\r\n0\r\n\r\n"),
    ("size-with-sign", b"+5\r\nhello\r\n0\r\n\r\n"),
    ("size-huge", b"f" * 40 + b"\r\nhello\r\n0\r\n\r\n"),
    ("data-longer-than-size", b"3\r\nhello\r\n0\r\n\r\n"),
]


@pytest.mark.parametrize("body", [b for _, b in MALFORMED_CHUNKS], ids=[i for i, _ in MALFORMED_CHUNKS])
def test_malformed_chunk_is_400_and_never_runs(sample_host: HostProcess, sample_app: SampleApp, body: bytes) -> None:
    tag = os.urandom(4).hex()
    reply = exchange(sample_host, request_head(tag, CHUNKED), body)
    assert status_of(reply) == 400, reply[:200]
    assert not ran(sample_app, tag)


@pytest.mark.parametrize(
    "head_extra,body",
    [
        (["Content-Length: 100"], b"only ten b"),
        ([CHUNKED], b"a\r\nonly five"),  # a chunk cut short
        ([CHUNKED], b"5\r\nhello\r\n"),  # no last chunk
    ],
    ids=["content-length", "chunk-data", "last-chunk"],
)
def test_body_cut_short_never_runs(
    sample_host: HostProcess, sample_app: SampleApp, head_extra: list[str], body: bytes
) -> None:
    tag = os.urandom(4).hex()
    reply = exchange(sample_host, request_head(tag, *head_extra), body, close_write=True)
    assert status_of(reply) in (0, 400), reply[:200]  # the client is gone: an answer is optional
    assert not ran(sample_app, tag)


@pytest.mark.parametrize(
    "headers",
    [
        ["Content-Length: abc"],
        ["Content-Length: -1"],
        ["Content-Length: 5", "Content-Length: 6"],
        ["Content-Length: 5", CHUNKED],
        ["Transfer-Encoding: gzip"],
    ],
    ids=["length-not-a-number", "length-negative", "two-lengths", "length-and-chunked", "unknown-coding"],
)
def test_unreadable_framing_is_400_and_never_runs(
    sample_host: HostProcess, sample_app: SampleApp, headers: list[str]
) -> None:
    tag = os.urandom(4).hex()
    reply = exchange(sample_host, request_head(tag, *headers), b"hello")
    assert status_of(reply) == 400, reply[:200]
    assert not ran(sample_app, tag)


@pytest.mark.parametrize(
    "headers,body",
    [(["Content-Length: 5"], b"hello"), ([CHUNKED], b"2\r\nhe\r\n3;ext=1\r\nllo\r\n0\r\nX-Trailer: 1\r\n\r\n")],
    ids=["content-length", "chunked-with-extension-and-trailer"],
)
def test_well_formed_bodies_still_run(
    sample_host: HostProcess, sample_app: SampleApp, headers: list[str], body: bytes
) -> None:
    tag = os.urandom(4).hex()
    reply = exchange(sample_host, request_head(tag, *headers), body)
    assert status_of(reply) == 201, reply[:200]
    assert [r["body"] for r in sample_app.records("record_request") if r["tag"] == tag] == ["hello"]


def test_a_refused_request_is_logged_without_its_function_key(sample_host: HostProcess) -> None:
    tag, key = os.urandom(4).hex(), f"key-{os.urandom(8).hex()}"
    head = request_head(tag, CHUNKED).replace(f"/api/record/{tag}", f"/api/record/{tag}?x=1&code={key}", 1)
    assert status_of(exchange(sample_host, head, MALFORMED_CHUNKS[0][1])) == 400
    line = f"refused POST /api/record/{tag}?x=1&code=[Hidden Credential]"
    deadline = time.monotonic() + 10
    while line not in sample_host.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line in sample_host.logs() and key not in sample_host.logs()


# Request lines http.server used to answer HTTP/0.9 style (a bare page, no status line) or not at all.
BAD_REQUEST_LINES = [
    ("not-http", "\x16\x03\x01garbage\n\n", 400),
    ("http-2-version", "GET /api/health HTTP/2.0\nHost: 127.0.0.1\n\n", 505),
    ("http-0.9", "GET /api/health\n", 400),
    ("too-many-words", "GET /api/health HTTP/1.1 extra\nHost: 127.0.0.1\n\n", 400),
]


@pytest.mark.parametrize(
    ("line", "status"), [(x[1], x[2]) for x in BAD_REQUEST_LINES], ids=[x[0] for x in BAD_REQUEST_LINES]
)
def test_unparsable_request_line_gets_a_status_line_and_a_close(
    sample_host: HostProcess, line: str, status: int
) -> None:
    reply = exchange(sample_host, line)  # returns only once the host closes; an HTTP/0.9 wait used to take 120 s

    head, _, body = reply.partition(b"\r\n\r\n")
    assert status_of(reply) == status, reply[:200]
    assert b"Connection: close" in head
    assert body == b""  # Kestrel's refusals carry no body, and never http.server's HTML page


def test_oversized_header_is_431_with_a_status_line(sample_host: HostProcess) -> None:
    reply = exchange(sample_host, "GET /api/health HTTP/1.1\nHost: 127.0.0.1\nX-Big: " + "a" * 70000 + "\n\n")

    assert status_of(reply) == 431, reply[:200]
    assert reply.partition(b"\r\n\r\n")[2] == b""


def test_an_announced_body_over_the_limit_is_413_without_100_continue(sample_host: HostProcess) -> None:
    head = request_head("big", "Expect: 100-continue", "Content-Length: 200000000")

    reply = exchange(sample_host, head)  # nothing of the body is sent: a client waits for 100 before sending

    assert status_of(reply) == 413, reply[:200]
    assert b"100 Continue" not in reply


def test_an_http_1_0_keep_alive_client_is_told_the_connection_stays(sample_host: HostProcess) -> None:
    request = b"GET /api/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    with socket.create_connection(("127.0.0.1", sample_host.port), timeout=10) as sock, sock.makefile("rb") as replies:
        heads = []
        for _ in range(2):  # ab -k: a 1.0 client reuses the connection only when the reply says keep-alive
            sock.sendall(request)
            head = b"".join(iter(lambda: replies.readline(65536), b"\r\n"))
            length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            replies.read(length)
            heads.append(head)

    assert all(b"Connection: keep-alive" in head for head in heads), heads
