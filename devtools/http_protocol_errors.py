"""What our HTTP servers answer to requests http.server refuses by itself (bad request line, huge headers).

http.server answers a request line it cannot parse HTTP/0.9 style (an HTML page with no status line and
no headers, which HTTP/1.x clients report as a broken server), and takes a two-word line ("GET /") as an
HTTP/0.9 request, then waits for headers that never come. Kestrel and Azure's front ends answer both with
a status line (400, 505) and close the connection; so do we, with each server's own error body.
"""

from __future__ import annotations

from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

MAX_MESSAGE = 200  # http.server's messages quote the client's bytes; keep what we echo short


class ProtocolErrorReplies(BaseHTTPRequestHandler):
    """A handler base: every refusal has a status line, closes the connection, and carries error_body()."""

    default_request_version = "HTTP/1.0"  # a refusal before the version is parsed still gets a status line
    raw_requestline: bytes  # set by handle_one_request before parse_request

    max_body_bytes: int | None = None  # a larger announced body is refused without inviting it

    _connection_header_sent = False

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection":
            self._connection_header_sent = True
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        # An HTTP/1.0 client keeps a connection only when the reply says so; otherwise it waits for a close
        # that never comes (`ab -k` waited out the 120 s idle timeout).
        if self.request_version == "HTTP/1.0" and not self.close_connection and not self._connection_header_sent:
            super().send_header("Connection", "keep-alive")
        self._connection_header_sent = False
        super().end_headers()

    def handle_expect_100(self) -> bool:
        """No "100 Continue" for a body over the limit: the handler answers 413 without reading it (RFC 9110
        section 10.1.1), instead of inviting the client to upload megabytes only to have the connection closed."""
        length = (self.headers.get("Content-Length") or "").strip()
        if self.max_body_bytes is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return True
        return super().handle_expect_100()

    def parse_request(self) -> bool:
        if len(self.raw_requestline.split()) == 2:  # "GET /path": HTTP/0.9, which nothing we emulate speaks
            self.command = ""
            self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
            self.request_version = self.default_request_version
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 requests are not supported")
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        status = HTTPStatus(code)
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        body, content_type = self.error_body(status, (message or status.phrase)[:MAX_MESSAGE])
        self.send_response(status)  # the standard reason phrase, never one quoting the client's bytes
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def error_body(self, status: HTTPStatus, message: str) -> tuple[bytes, str]:
        """The body and its content type; empty, as Kestrel sends, unless a server says otherwise."""
        return b"", ""


def error_code(status: HTTPStatus) -> str:
    """An Azure-style code from the status phrase: 431 -> RequestHeaderFieldsTooLarge."""
    return "".join(word.capitalize() for word in status.phrase.replace("-", " ").split())
