"""The Spot monitor against a local server that speaks IMDSv2 and starts announcing a reclaim."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import pytest
from imds_server import INSTANCE_ACTION, FakeImds

from pipeline.settings import Settings, build_resource
from resources.runtime.spot_monitor import MetadataClient, SpotMonitor, metadata_endpoint


def wait_for(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def imds():
    with FakeImds() as server:
        yield server


def test_fake_imds_refuses_a_get_without_a_token(imds):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(imds.url + INSTANCE_ACTION.lstrip("/"), timeout=2)
    assert refused.value.code == 401


def test_monitor_says_nothing_until_imds_announces_an_interruption(imds):
    monitor = SpotMonitor(enabled=True, endpoint=imds.url, poll_seconds=0.02)
    monitor.start()
    try:
        assert wait_for(lambda: imds.gets_with_token >= 6)
        assert monitor.check() is None
        imds.announce(action="terminate", time="2026-11-21T02:00:00Z")
        assert wait_for(lambda: monitor.check() is not None)
        reason = monitor.check()
        assert "spot interruption" in reason and "terminate" in reason
        assert "2026-11-21T02:00:00Z" in reason
    finally:
        monitor.close()


def test_every_poll_carries_a_token_from_one_session(imds):
    monitor = SpotMonitor(enabled=True, endpoint=imds.url, poll_seconds=0.02)
    monitor.start()
    try:
        assert wait_for(lambda: imds.gets_with_token >= 10)
    finally:
        monitor.close()
    assert imds.token_requests == 1
    assert imds.gets_refused == 0


def test_a_refused_token_is_renewed_and_polling_goes_on(imds):
    client = MetadataClient(imds.url)
    assert client.poll() is None
    imds.revoke_tokens()
    imds.announce()
    notice = client.poll()
    assert notice is not None and notice.kind == "instance-action"
    assert imds.token_requests == 2
    assert imds.gets_refused == 1


def test_a_rebalance_recommendation_is_reported_but_does_not_stop_by_default(imds):
    imds.recommend_rebalance()
    monitor = SpotMonitor(enabled=True, endpoint=imds.url, poll_seconds=0.02)
    monitor.start()
    try:
        assert wait_for(lambda: monitor.notice is not None)
        assert monitor.notice.kind == "rebalance"
        assert monitor.check() is None
    finally:
        monitor.close()


def test_a_rebalance_recommendation_stops_work_when_configured(imds):
    imds.recommend_rebalance()
    monitor = SpotMonitor(
        enabled=True, endpoint=imds.url, poll_seconds=0.02, stop_on_rebalance=True
    )
    monitor.start()
    try:
        assert wait_for(lambda: monitor.check() is not None)
        assert "rebalance" in monitor.check()
    finally:
        monitor.close()


def test_endpoint_comes_from_the_botocore_environment_variable(imds, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url.rstrip("/"))
    monkeypatch.setenv("CHARACTER_VIDEO_SPOT_MONITOR", "1")
    monkeypatch.setenv("CHARACTER_VIDEO_SPOT_POLL_S", "0.02")
    settings = Settings.from_env()
    assert metadata_endpoint(settings.imds_endpoint) == imds.url
    imds.announce()
    monitor = build_resource("spot_monitor", settings)
    monitor.start()
    try:
        assert wait_for(lambda: monitor.check() is not None)
    finally:
        monitor.close()


def test_without_the_variable_the_endpoint_is_the_link_local_address(monkeypatch):
    monkeypatch.delenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", raising=False)
    assert metadata_endpoint(Settings.from_env().imds_endpoint) == "http://169.254.169.254/"
    assert metadata_endpoint() == "http://169.254.169.254/"


def test_an_unreachable_metadata_service_never_asks_to_stop():
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monitor = SpotMonitor(
        enabled=True, endpoint=f"http://127.0.0.1:{port}/", poll_seconds=0.01, timeout_s=0.2
    )
    monitor.start()
    try:
        assert wait_for(lambda: monitor._errors >= 3)
        assert monitor.check() is None
    finally:
        monitor.close()


def test_a_disabled_monitor_never_polls(imds):
    imds.announce()
    monitor = SpotMonitor(enabled=False, endpoint=imds.url, poll_seconds=0.01)
    monitor.start()
    time.sleep(0.1)
    assert monitor.check() is None
    assert imds.token_requests == 0
