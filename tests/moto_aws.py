"""moto in server mode on 127.0.0.1 (a free port), with fake credentials: no test reaches AWS."""

from __future__ import annotations

import functools
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # Nothing may fall back to a real profile, real credentials or the real metadata service.
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


_CONDITIONAL = threading.Lock()


def _atomic(method):
    """`method` of moto's S3Response run under one lock: its If-None-Match / If-Match check and
    the write are separate steps, so two of the threaded server's requests can both pass the
    check. S3 itself decides conditional writes atomically ("the first write operation to
    finish succeeds", AWS's conditional-writes guide); the stand-in must too, or a lease test
    sees two holders that real S3 would never admit."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with _CONDITIONAL:
            return method(self, *args, **kwargs)

    locked.atomic = True
    return locked


def _make_conditional_writes_atomic() -> None:
    from moto.s3.responses import S3Response

    for name in ("put_object", "delete_object"):
        method = getattr(S3Response, name)
        if not getattr(method, "atomic", False):
            setattr(S3Response, name, _atomic(method))


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port; yields its endpoint URL."""
    _make_conditional_writes_atomic()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its state per process, not per server: start every test from empty accounts.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Fake credentials, and every AWS endpoint pointed at a fresh local moto server."""
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    with moto_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3 >= 1.28 honours it everywhere
        yield endpoint
