"""A local HTTP server standing in for a Slack incoming webhook: it records what it is sent and
answers with the statuses it is told to, in order (then 200)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hook:
    def __init__(self, statuses: list[int] | None = None, hold: threading.Event | None = None):
        self.statuses = list(statuses or [])
        self.hold = hold  # when set, every request waits for it before answering
        self.received: list[dict] = []
        self.answered: list[int] = []
        self.lock = threading.Lock()
        self.url = ""

    def wait_for(self, count: int, limit_s: float = 60.0) -> list[dict]:
        """The payloads once `count` have arrived (or what arrived by `limit_s`)."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        with self.lock:
            return list(self.received)


def log_lines(path, count: int, limit_s: float = 60.0) -> list[dict]:
    """The delivery log's entries once `count` whole lines are in it (or what is there by
    `limit_s`). The sender writes its line after the webhook answered, so a test that saw the
    request arrive must still wait for the line."""
    deadline = time.monotonic() + limit_s
    while True:
        text = path.read_text() if path.is_file() else ""
        lines = [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


@contextmanager
def webhook(statuses: list[int] | None = None, hold: threading.Event | None = None
            ) -> Iterator[Hook]:  # fmt: skip
    hook = Hook(statuses, hold)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if hook.hold is not None:
                hook.hold.wait(60)
            with hook.lock:
                status = hook.statuses.pop(0) if hook.statuses else 200
                hook.answered.append(status)
                if status == 200:
                    hook.received.append(json.loads(body))
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"no")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield hook
    finally:
        if hold is not None:
            hold.set()
        server.shutdown()
        server.server_close()
