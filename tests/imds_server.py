"""A local HTTP server that answers like the EC2 instance metadata service (IMDSv2) does.

`PUT /latest/api/token` with a TTL header issues a session token; every `GET` must carry it
(401 otherwise). `spot/instance-action` and `events/recommendations/rebalance` answer 404 until
the test announces them (or until `trigger` first returns True), then the JSON AWS documents;
`instance-type` and `instance-life-cycle` answer what the test gave (404 when it gave no type).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INSTANCE_ACTION = "/latest/meta-data/spot/instance-action"
REBALANCE = "/latest/meta-data/events/recommendations/rebalance"
INSTANCE_TYPE = "/latest/meta-data/instance-type"
LIFE_CYCLE = "/latest/meta-data/instance-life-cycle"


class FakeImds:
    """IMDSv2 on 127.0.0.1 at a free port; `url` is what AWS_EC2_METADATA_SERVICE_ENDPOINT takes."""

    def __init__(
        self,
        trigger: Callable[[], bool] | None = None,
        *,
        instance_type: str | None = None,
        life_cycle: str = "spot",
    ):
        self.instance_type, self.life_cycle = instance_type, life_cycle  # None: no such path
        self.tokens: set[str] = set()
        self.action: dict | None = None
        self.rebalance: dict | None = None
        self.trigger = trigger
        self.token_requests = 0
        self.gets_with_token = 0
        self.gets_refused = 0
        self.announced_at: float | None = None  # time.time() of the first announcement
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def announce(self, action: str = "terminate", time: str = "2026-11-21T02:00:00Z") -> None:
        with self._lock:
            self.action = {"action": action, "time": time}
            self.announced_at = self.announced_at or _now()

    def recommend_rebalance(self, notice_time: str = "2026-11-21T01:58:00Z") -> None:
        with self._lock:
            self.rebalance = {"noticeTime": notice_time}

    def quiet(self) -> None:
        """Announce nothing any more: the relaunch runs on a fresh instance."""
        with self._lock:
            self.action, self.rebalance, self.trigger = None, None, None

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def __enter__(self) -> FakeImds:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def _send(self, code: int, body: str = "") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                if self.path != "/latest/api/token":
                    return self._send(404)
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
                if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                    return self._send(400)
                token = secrets.token_urlsafe(16)
                with imds._lock:
                    imds.tokens.add(token)
                    imds.token_requests += 1
                self._send(200, token)

            def do_GET(self) -> None:
                with imds._lock:
                    if self.headers.get("X-aws-ec2-metadata-token") not in imds.tokens:
                        imds.gets_refused += 1
                        return self._send(401)
                    imds.gets_with_token += 1
                    if imds.action is None and imds.trigger is not None and imds.trigger():
                        imds.action = {"action": "terminate", "time": "2026-11-21T02:00:00Z"}
                        imds.announced_at = _now()
                    action, rebalance = imds.action, imds.rebalance
                if self.path == INSTANCE_ACTION and action is not None:
                    return self._send(200, json.dumps(action))
                if self.path == REBALANCE and rebalance is not None:
                    return self._send(200, json.dumps(rebalance))
                if self.path == INSTANCE_TYPE and imds.instance_type is not None:
                    return self._send(200, imds.instance_type)
                if self.path == LIFE_CYCLE and imds.instance_type is not None:
                    return self._send(200, imds.life_cycle)
                self._send(404)

        return Handler


def _now() -> float:
    return time.time()
