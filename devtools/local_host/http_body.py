"""Reads a request body exactly as its framing says (RFC 9112 section 6), or refuses it.

A request whose body cannot be read whole (malformed chunk, body shorter than its
Content-Length, ambiguous framing) never reaches user code: Kestrel answers such requests 400
and so do we, then closes the connection, since where the next request starts is unknown.
"""
from __future__ import annotations

import re
from email.message import Message
from typing import Protocol

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,19}")
MAX_LINE = 8192  # a chunk-size or trailer line, like http.server's header lines
MAX_TRAILERS = 100


class Reader(Protocol):
    """The connection's buffered input (http.server's rfile)."""

    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


class UnreadableBody(Exception):
    """The body cannot be read whole; answer `status` and close the connection."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def read_body(headers: Message, rfile: Reader, limit: int) -> bytes:
    """The whole body, by Transfer-Encoding: chunked or by Content-Length (none: empty)."""
    codings = [c.strip().lower() for v in headers.get_all("Transfer-Encoding") or [] for c in v.split(",")]
    lengths = {v.strip() for v in headers.get_all("Content-Length") or [] for v in v.split(",")}
    if codings:
        if lengths:
            raise UnreadableBody(400, "both Transfer-Encoding and Content-Length")  # a smuggling shape
        if codings != ["chunked"]:
            raise UnreadableBody(400, f"unsupported Transfer-Encoding {', '.join(codings)[:60]!r}")
        return _read_chunked(rfile, limit)
    if not lengths:
        return b""
    if len(lengths) > 1 or not _DIGITS.fullmatch(next(iter(lengths))):
        raise UnreadableBody(400, "Content-Length is not one whole number")
    length = int(next(iter(lengths)))
    if length > limit:
        raise UnreadableBody(413, f"body larger than {limit} bytes")
    return _read_exactly(rfile, length)


def _read_exactly(rfile: Reader, size: int) -> bytes:
    data = rfile.read(size) if size else b""
    if len(data) < size:
        raise UnreadableBody(400, "the connection closed before the whole body arrived")
    return data


def _read_line(rfile: Reader) -> bytes:
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise UnreadableBody(400, "chunk line too long")
    if not line.endswith(b"\n"):
        raise UnreadableBody(400, "the connection closed before the last chunk")
    return line


def _read_chunked(rfile: Reader, limit: int) -> bytes:
    body = bytearray()
    while True:
        size_text = _read_line(rfile).split(b";", 1)[0].strip()  # chunk extensions are ignored
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise UnreadableBody(400, "malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            _skip_trailers(rfile)
            return bytes(body)
        if len(body) + size > limit:
            raise UnreadableBody(413, f"body larger than {limit} bytes")
        body += _read_exactly(rfile, size)
        if _read_line(rfile) not in (b"\r\n", b"\n"):
            raise UnreadableBody(400, "chunk data longer than its size")


def _skip_trailers(rfile: Reader) -> None:
    for _ in range(MAX_TRAILERS):
        if _read_line(rfile) in (b"\r\n", b"\n"):
            return
    raise UnreadableBody(400, "too many trailer fields")
