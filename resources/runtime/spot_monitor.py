"""Spot interruption notices, polled so that long loops can stop at a unit boundary.

On EC2, AWS announces the reclaim of a Spot instance two minutes ahead at the instance metadata
service (IMDS) path `spot/instance-action`, and earlier, when the risk rises, at
`events/recommendations/rebalance`. A background thread polls both every few seconds through
IMDSv2 (a session token from `PUT /latest/api/token`, sent back on every `GET`); `check` is the
`stop` callable the long loops take and only reads what the thread saw, so it costs nothing.

When a notice first arrives during a Dagster run, the run is tagged with it and its run-retry
budget (`dagster/max_retries`) is raised by one: the relaunch that follows a preemption does not
use up the retries meant for genuine errors, whether the run stops at a unit boundary or the
instance is taken before it gets there.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from resources.domain.placement import GPUS_TAG, RUN_TASK_KWARGS_TAG, run_task_kwargs

# botocore's default; pipeline.settings passes its override variable's value, as the SDKs do.
DEFAULT_ENDPOINT = "http://169.254.169.254/"
TOKEN_PATH = "latest/api/token"
INSTANCE_ACTION = "latest/meta-data/spot/instance-action"
REBALANCE = "latest/meta-data/events/recommendations/rebalance"
INSTANCE_TYPE = "latest/meta-data/instance-type"
LIFE_CYCLE = "latest/meta-data/instance-life-cycle"  # spot | on-demand | scheduled
TOKEN_TTL_S = 21600
MAX_RETRIES_TAG = "dagster/max_retries"
SPOT_NOTICE_TAG = "character_video/spot_notice"
SPOT_INTERRUPTIONS_TAG = "character_video/spot_interruptions"

log = logging.getLogger(__name__)


class MetadataServiceError(RuntimeError):
    """The instance metadata service did not answer as IMDSv2 does."""


@dataclass(frozen=True)
class SpotNotice:
    """What IMDS announced: an interruption (`instance-action`) or a rebalance recommendation."""

    kind: str  # "instance-action" | "rebalance"
    detail: dict[str, Any]
    seen_at: float  # time.time() when the poller first saw it

    @property
    def reason(self) -> str:
        if self.kind == "instance-action":
            action, when = self.detail.get("action", "terminate"), self.detail.get("time", "?")
            return f"spot interruption: AWS will {action} this instance at {when}"
        return f"spot rebalance recommendation (noticed at {self.detail.get('noticeTime', '?')})"


def metadata_endpoint(endpoint: str | None = None) -> str:
    """The IMDS base URL: `endpoint` (AWS_EC2_METADATA_SERVICE_ENDPOINT), else botocore's."""
    endpoint = endpoint or DEFAULT_ENDPOINT
    return endpoint if endpoint.endswith("/") else endpoint + "/"


class MetadataClient:
    """A minimal IMDSv2 client: one session token, refreshed before it expires or when refused."""

    def __init__(self, endpoint: str, *, timeout_s: float = 1.0, token_ttl_s: int = TOKEN_TTL_S):
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.timeout_s = timeout_s
        self.token_ttl_s = token_ttl_s
        self._token: str | None = None
        self._token_expires = 0.0
        # IMDS is link-local: an HTTP(S)_PROXY from the environment must never carry it.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _fetch_token(self) -> str:
        request = urllib.request.Request(
            self.endpoint + TOKEN_PATH,
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(self.token_ttl_s)},
        )
        with self._opener.open(request, timeout=self.timeout_s) as response:
            token = response.read().decode().strip()
        if not token:
            raise MetadataServiceError(f"{self.endpoint}{TOKEN_PATH} returned an empty token")
        # Renew a minute early so a poll never carries a token that expires in flight.
        self._token_expires = time.monotonic() + max(1, self.token_ttl_s - 60)
        return token

    def get(self, path: str) -> str | None:
        """The body at `path`, or None when IMDS answers 404 (nothing announced)."""
        for attempt in range(2):
            if self._token is None or time.monotonic() >= self._token_expires:
                self._token = self._fetch_token()
            request = urllib.request.Request(
                self.endpoint + path, headers={"X-aws-ec2-metadata-token": self._token}
            )
            try:
                with self._opener.open(request, timeout=self.timeout_s) as response:
                    return response.read().decode()
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                if error.code == 401 and attempt == 0:  # token expired or revoked: renew once
                    self._token = None
                    continue
                message = f"GET {self.endpoint}{path}: HTTP {error.code}"
                raise MetadataServiceError(message) from None
        raise MetadataServiceError(f"GET {self.endpoint}{path}: token refused twice")

    def poll(self) -> SpotNotice | None:
        """An interruption notice if announced, else a rebalance recommendation, else None."""
        for kind, path in (("instance-action", INSTANCE_ACTION), ("rebalance", REBALANCE)):
            body = self.get(path)
            if body:
                try:
                    detail = json.loads(body)
                except json.JSONDecodeError:
                    detail = {"raw": body}
                return SpotNotice(kind, detail if isinstance(detail, dict) else {}, time.time())
        return None


def ec2_host(endpoint: str | None = None, timeout_s: float = 1.0) -> tuple[str, str] | None:
    """(instance type, "spot" or "on-demand") of the EC2 host this process runs on, from IMDS;
    None where IMDS does not answer as IMDSv2 does (not on EC2)."""
    client = MetadataClient(metadata_endpoint(endpoint), timeout_s=timeout_s)
    try:
        kind, life = client.get(INSTANCE_TYPE), client.get(LIFE_CYCLE)
    except (OSError, MetadataServiceError):  # refused, timed out, not IMDS
        return None
    if not kind or not kind.strip():
        return None
    return kind.strip(), "spot" if (life or "").strip() == "spot" else "on-demand"


class SpotMonitor(ConfigurableResource):
    """Reports a pending Spot interruption; `check` is the `stop` callable long loops take.

    Disabled (a laptop, CI), it never asks to stop. Enabled, it polls IMDS in a background
    thread from resource setup until teardown.
    """

    enabled: bool = False
    endpoint: str | None = None  # default: botocore's link-local endpoint
    poll_seconds: float = 5.0
    timeout_s: float = 1.0
    stop_on_rebalance: bool = False  # a rebalance recommendation is a warning, not a notice
    on_demand_after: int = 0  # interruptions of one run before its relaunch goes on-demand
    cluster: str = ""  # the ECS cluster, for runs submitted without a placement tag (the UI)

    _notice: SpotNotice | None = PrivateAttr(default=None)
    _rebalance: SpotNotice | None = PrivateAttr(default=None)
    _thread: threading.Thread | None = PrivateAttr(default=None)
    _halt: threading.Event = PrivateAttr(default_factory=threading.Event)
    _context: InitResourceContext | None = PrivateAttr(default=None)
    _errors: int = PrivateAttr(default=0)

    def check(self) -> str | None:
        """The reason to stop now, or None to go on."""
        if self._notice is not None:
            return self._notice.reason
        if self.stop_on_rebalance and self._rebalance is not None:
            return self._rebalance.reason
        return None

    @property
    def notice(self) -> SpotNotice | None:
        return self._notice or self._rebalance

    def start(self) -> None:
        """Start polling in a daemon thread (idempotent); a no-op when disabled."""
        if not self.enabled or (self._thread is not None and self._thread.is_alive()):
            return
        client = MetadataClient(metadata_endpoint(self.endpoint), timeout_s=self.timeout_s)
        self._log_info(f"spot monitor: polling {client.endpoint} every {self.poll_seconds:g} s")
        self._halt.clear()
        self._thread = threading.Thread(
            target=self._run, args=(client,), name="spot-monitor", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s * 2 + self.poll_seconds)
            self._thread = None

    def poll_once(self, client: MetadataClient) -> SpotNotice | None:
        """One poll; records what it saw (an interruption is kept once seen)."""
        try:
            notice = client.poll()
        except (OSError, MetadataServiceError) as error:
            self._errors += 1
            if self._errors in (1, 10, 100):  # say it, without flooding the run's log
                self._log(f"spot monitor: metadata service unreachable ({error}); still polling")
            return None
        if notice is None:
            return None
        # The run is tagged before `check` can report the notice: the failure that follows must
        # find its retry budget already raised.
        if notice.kind == "instance-action" and self._notice is None:
            self._log(notice.reason)
            self._record_on_run(notice)
            self._notice = notice
        elif notice.kind == "rebalance" and self._rebalance is None:
            self._log(notice.reason)
            if self.stop_on_rebalance:
                self._record_on_run(notice)
            self._rebalance = notice
        return notice

    def _run(self, client: MetadataClient) -> None:
        while not self._halt.is_set():
            try:
                self.poll_once(client)
            except Exception as error:  # noqa: BLE001 - a poller that dies silently is worse
                self._errors += 1
                self._log(f"spot monitor: poll failed ({type(error).__name__}: {error})")
            if self._notice is not None:
                return  # an interruption is final: nothing more to learn
            self._halt.wait(self.poll_seconds)

    def _log_info(self, message: str) -> None:
        if self._context is not None and self._context.log is not None:
            self._context.log.info(message)
        else:
            log.info(message)

    def _log(self, message: str) -> None:
        if self._context is not None and self._context.log is not None:
            self._context.log.warning(message)
        else:
            log.warning(message)

    def _record_on_run(self, notice: SpotNotice) -> None:
        """Tag the run with the notice and give its run retries one more attempt."""
        context = self._context
        run = context.run if context is not None else None
        if context is None or context.instance is None or run is None:
            return
        try:
            record_preemption(
                context.instance,
                run.run_id,
                notice,
                on_demand_after=self.on_demand_after,
                cluster=self.cluster,
            )
        except Exception as error:  # noqa: BLE001 - a failed tag must not stop the poller
            self._log(f"spot monitor: could not tag run {run.run_id}: {error}")

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._context = context
        self.start()

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.close()


def record_preemption(
    instance: Any,
    run_id: str,
    notice: SpotNotice,
    *,
    on_demand_after: int = 0,
    cluster: str = "",
) -> dict[str, str]:
    """Tag `run_id` with `notice` and raise its `dagster/max_retries` by one; the new tags.

    A relaunch copies its parent's tags, so what is tagged here is what the next attempt gets:
    after `on_demand_after` interruptions (0: never) its capacity providers turn on-demand. A
    run without a placement tag (launched from the UI: the cluster's default, one-GPU Spot
    provider took it) gets the on-demand provider of `cluster` for its GPU count.
    """
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise MetadataServiceError(f"run {run_id} not found")
    # A relaunch inherits its parent's tags: only a notice recorded for this run counts as seen.
    previous = json.loads(run.tags.get(SPOT_NOTICE_TAG) or "{}")
    if previous.get("run_id") == run_id:
        return {}
    current = run.tags.get(MAX_RETRIES_TAG)
    budget = int(current) if current is not None else instance.run_retries_max_retries
    interruptions = int(run.tags.get(SPOT_INTERRUPTIONS_TAG, "0")) + 1
    tags = {
        SPOT_NOTICE_TAG: json.dumps(
            {"run_id": run_id, "kind": notice.kind, **notice.detail}, sort_keys=True
        ),
        SPOT_INTERRUPTIONS_TAG: str(interruptions),
        MAX_RETRIES_TAG: str(budget + 1),
    }
    placement = run.tags.get(RUN_TASK_KWARGS_TAG)
    if on_demand_after and interruptions >= on_demand_after:
        if placement:
            tags[RUN_TASK_KWARGS_TAG] = _on_demand(placement)
        elif cluster:
            gpus = int(run.tags.get(GPUS_TAG, "1"))
            on_demand = run_task_kwargs(gpus, cluster=cluster, spot=False)
            tags[RUN_TASK_KWARGS_TAG] = json.dumps(on_demand, sort_keys=True)
    instance.add_run_tags(run_id, tags)
    return tags


def _on_demand(run_task_kwargs: str) -> str:
    """The same RunTask arguments with every `...-spot` capacity provider made `...-ondemand`."""
    kwargs = json.loads(run_task_kwargs)
    for item in kwargs.get("capacityProviderStrategy", []):
        if item.get("capacityProvider", "").endswith("-spot"):
            item["capacityProvider"] = item["capacityProvider"][: -len("-spot")] + "-ondemand"
    return json.dumps(kwargs, sort_keys=True)
