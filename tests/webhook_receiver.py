"""A webhook receiver for the tests: a real HTTP server on a free loopback port that records
every request and answers 500 for the first `failures` of them (or for all, with failures=-1)."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict
    status: int


@dataclass
class Receiver:
    base_url: str = ""
    failures: int = 0  # answer 500 to this many requests first; -1: always
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, headers: dict[str, str], body: dict) -> int:
        with self.lock:
            status = 500 if self.failures else 200
            if self.failures > 0:
                self.failures -= 1
            self.requests.append(Received(path, headers, body, status))
            return status

    def accepted(self, path_prefix: str = "/") -> list[Received]:
        return [r for r in self.requests if r.status == 200 and r.path.startswith(path_prefix)]


@contextmanager
def webhook_receiver(failures: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(failures=failures)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.answer(self.path, dict(self.headers.items()), json.loads(raw))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
