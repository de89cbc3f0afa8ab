"""What the review app serves and how, kept on the Starlette app's state for every route."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from pipeline.settings import Settings

# The names a browser on this machine reaches a loopback-bound app by.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class ReviewConfig:
    """What the app serves and how: the store, the settings, whether a token is required."""

    store: Any
    settings: Settings
    token: str | None
    profile: str = "tiny"
    models_dir: str | None = None
    launch: bool = True  # start the chain after an approval or a re-roll
    runs: dict[str, Any] = field(default_factory=dict)  # client/character -> Popen
    # Held while a run is looked for and started: two approvals at once (routes run in worker
    # threads) start one run, not two.
    starting: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # The DAGSTER_HOME instance, where one is set: runs in flight are read from it, so an app
    # restarted mid-run still knows (and does not start a second run).
    instance: Any = None
    # Host names (no port) requests may name in `Host` and forms in `Origin`; anything else is
    # refused (pipeline/review/security.host_refusal).
    hosts: tuple[str, ...] = LOOPBACK_HOSTS


def config_of(request: Request) -> ReviewConfig:
    """The configuration of the app serving `request` (create_app puts it on the app's state)."""
    return request.app.state.review
