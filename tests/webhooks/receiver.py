"""A real HTTP receiver for delivery tests: checks Standard Webhooks signatures on its own (plain
hmac, not the library under test) and answers as scripted per path."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: str = ""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    given = headers.get("webhook-signature", "").split()
    fresh = abs(time.time() - int(headers.get("webhook-timestamp", "0"))) < 300
    return fresh and any(hmac.compare_digest(s, f"v1,{expected}") for s in given)


class Receiver:
    """`script[path]` is a list of replies served in turn; the last one repeats."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.script: dict[str, list[Reply]] = {}
        self.received: list[Received] = []
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self.port = 0
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests being answered at one time

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str, *replies: Reply) -> str:
        with self._lock:
            self.script[path] = list(replies)
            self._served[path] = 0
        return self.url(path)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def _next(self, path: str, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            replies = self.script.get(path) or [Reply(404)]
            n = self._served.get(path, 0)
            self._served[path] = n + 1
            return replies[min(n, len(replies) - 1)]


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            ok = signature_ok(receiver.secret, headers, body)
            reply = receiver._next(self.path, Received(self.path, headers, body, ok))
            with receiver._lock:
                receiver.in_flight += 1
                receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            with receiver._lock:
                receiver.in_flight -= 1
            status = reply.status if ok else 401
            data = (reply.body if ok else "bad signature").encode()
            try:
                self.send_response(status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
