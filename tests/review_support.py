"""Helpers of the review-app tests: a chain waiting for approval, the app served on a port."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from conftest import write_brief
from quick_chain import quick_brief

from pipeline.review.app import ReviewConfig, create_app
from pipeline.settings import Settings, build_resource

KEY = "acme-health/dr-ana"
CLIENT, CHARACTER = KEY.split("/")


def gated_brief(**overrides) -> dict:
    """The quick brief with two shots and the references gate on."""
    data = quick_brief(
        approval={"references": "required"},
        shots=[
            {"id": "hello", "prompt": "she nods", "duration_s": 0.5, "seed": 1},
            {"id": "wave", "prompt": "she waves", "duration_s": 0.5, "seed": 2},
        ],
    )
    data.update(overrides)
    return data


def write_gated_brief(inbox: Path, **overrides) -> Path:
    return write_brief(inbox, gated_brief(**overrides))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def review_settings(root: Path, inbox: Path, models: Path, **more) -> Settings:
    return replace(Settings(), root=str(root), inbox=(str(inbox),), models_dir=str(models), **more)


@contextmanager
def serve(config: ReviewConfig, host: str = "127.0.0.1") -> Iterator[str]:
    """The review app served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host=host, port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def config_for(settings: Settings, *, token: str | None = None, launch: bool = False):
    return ReviewConfig(
        store=build_resource("artifact_store", settings),
        settings=settings,
        token=token,
        models_dir=settings.models_dir,
        launch=launch,
    )


def get(url: str, headers: dict | None = None, timeout: float = 60) -> tuple[int, dict, bytes]:
    """GET without following redirects: (status, headers, body)."""
    opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def csrf_pair(url: str, headers: dict | None = None) -> tuple[str, str]:
    """(cookie header, form token) as a browser gets them from the app's home page."""
    parts = urllib.parse.urlsplit(url)
    opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"{parts.scheme}://{parts.netloc}/", headers=headers or {})
    with opener.open(request, timeout=60) as response:
        cookies = response.headers.get_all("set-cookie") or []
    cookie = next(c.split(";")[0] for c in cookies if c.startswith("review_csrf="))
    return cookie, cookie.split("=", 1)[1]


def post(
    url: str, fields: dict, headers: dict | None = None, *, csrf: bool = True
) -> tuple[int, dict, bytes]:
    """POST a form as the app's page would: with the csrf cookie and field (unless `csrf`=False)."""
    opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
    headers = dict(headers or {})
    if csrf and "csrf" not in fields and not url.endswith("/login"):
        cookie, token = csrf_pair(url, headers)
        fields = {**fields, "csrf": token}
        headers["Cookie"] = "; ".join(filter(None, [headers.get("Cookie"), cookie]))
    body = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
