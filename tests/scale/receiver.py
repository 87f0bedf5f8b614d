"""A webhook receiver in a thread: records every notification riskcast sends it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.changed = threading.Condition()
        self.url = ""

    def events(self, status: str) -> list[dict[str, Any]]:
        """Alert events of every message received so far with this ``event``."""
        with self.changed:
            return [a for b in self.bodies for a in b["alerts"] if a["event"] == status]

    def wait(self, condition: Callable[[], bool], within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        with self.changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"webhook receiver: condition not met: {self.bodies}")
                self.changed.wait(left)


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with receiver.changed:
                receiver.bodies.append(body)
                receiver.keys.append(self.headers.get("Idempotency-Key", ""))
                receiver.changed.notify_all()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
