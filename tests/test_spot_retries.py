"""Run retries: a Spot preemption is relaunched without using the budget for genuine errors.

Dagster decides whether a failed run is retried when its failure is stored (the run's
`dagster/will_retry` tag), from `dagster/max_retries` and the size of its run group. These tests
run real (small) jobs with the GPU job tags against an instance with run retries on, relaunch
from failure as the daemon does, and read Dagster's decision.
"""

from __future__ import annotations

import json
import time

import pytest
from dagster import (
    DagsterInstance,
    ReexecutionOptions,
    execute_job,
    job,
    op,
    reconstructable,
)
from dagster._core.storage.tags import (
    PARENT_RUN_ID_TAG,
    ROOT_RUN_ID_TAG,
    TAGS_TO_MAYBE_OMIT_ON_RETRY,
)
from dagster._core.test_utils import instance_for_test
from imds_server import FakeImds

from pipeline.spot import ON_DEMAND_AFTER, gpu_job_tags, placement_tags
from resources.runtime.interruption import stop_if_asked
from resources.runtime.spot_monitor import SPOT_INTERRUPTIONS_TAG, SpotMonitor

WILL_RETRY = "dagster/will_retry"


@op
def long_work(spot_monitor: SpotMonitor) -> None:
    """Units of work with a stop check between them, like every long loop of the pipeline."""
    for unit in range(50):
        stop_if_asked(spot_monitor.check, f"unit {unit}")
        time.sleep(0.01)
    raise ValueError("genuine error: no notice came, the code is simply broken")


@job(tags=gpu_job_tags(gpus=1), resource_defs={"spot_monitor": SpotMonitor()})
def gpu_job():
    long_work()


def run_config(endpoint: str | None, on_demand_after: int = 0, cluster: str = "") -> dict:
    monitor = {
        "enabled": endpoint is not None,
        "endpoint": endpoint,
        "poll_seconds": 0.02,
        "on_demand_after": on_demand_after,
        "cluster": cluster,
    }
    return {
        "resources": {"spot_monitor": {"config": monitor}},
        "execution": {"config": {"in_process": {}}},
    }


def attempt(
    instance: DagsterInstance,
    endpoint: str | None,
    parent=None,
    on_demand_after=0,
    *,
    first_tags: dict[str, str] | None = None,
    cluster: str = "",
):
    """One attempt: the first run, or a relaunch from failure carrying its parent's tags."""
    recon = reconstructable(gpu_job)
    config = run_config(endpoint, on_demand_after, cluster)
    if parent is None:
        with execute_job(recon, instance, run_config=config, tags=first_tags) as result:
            return instance.get_run_by_id(result.run_id)
    tags = {
        **{k: v for k, v in parent.tags.items() if k not in TAGS_TO_MAYBE_OMIT_ON_RETRY},
        PARENT_RUN_ID_TAG: parent.run_id,
        ROOT_RUN_ID_TAG: parent.root_run_id or parent.run_id,
    }
    options = ReexecutionOptions.from_failure(parent.run_id, instance)
    with execute_job(
        recon,
        instance,
        run_config=config,
        tags=tags,
        reexecution_options=options,
    ) as result:
        return instance.get_run_by_id(result.run_id)


@pytest.fixture
def instance():
    overrides = {"run_retries": {"enabled": True, "max_retries": 2}}
    with instance_for_test(overrides=overrides) as test_instance:
        yield test_instance


@pytest.fixture
def imds():
    with FakeImds() as server:
        server.announce()
        yield server


def test_a_spot_notice_fails_the_run_and_it_will_be_retried(instance, imds):
    run = attempt(instance, imds.url)
    assert run.is_failure
    assert run.tags[WILL_RETRY] == "true"
    assert run.tags[SPOT_INTERRUPTIONS_TAG] == "1"
    assert run.tags["dagster/max_retries"] == "3"
    assert json.loads(run.tags["character_video/spot_notice"])["action"] == "terminate"


def test_a_genuine_error_gets_two_retries_then_fails_for_good(instance):
    decisions, run = [], None
    for _ in range(3):
        run = attempt(instance, None, parent=run)
        decisions.append(run.tags[WILL_RETRY])
    assert decisions == ["true", "true", "false"]


def test_preemptions_do_not_use_up_the_retries_for_genuine_errors(instance, imds):
    run = attempt(instance, imds.url)
    run = attempt(instance, imds.url, parent=run)  # preempted twice in a row
    assert run.tags[SPOT_INTERRUPTIONS_TAG] == "2"
    decisions = []
    for _ in range(3):  # then the code turns out to be broken
        run = attempt(instance, None, parent=run)
        decisions.append(run.tags[WILL_RETRY])
    assert decisions == ["true", "true", "false"]  # the same two retries as without preemptions


def test_repeated_preemptions_move_the_relaunch_to_on_demand_capacity(instance, imds):
    # Submitted as the sensor does: the placement tag names the one-GPU Spot provider.
    placed = placement_tags(gpu_job_tags(gpus=1), cluster="character-video")
    run = None
    for _ in range(ON_DEMAND_AFTER):
        run = attempt(
            instance, imds.url, parent=run, on_demand_after=ON_DEMAND_AFTER, first_tags=placed
        )
    strategy = json.loads(run.tags["ecs/run_task_kwargs"])["capacityProviderStrategy"]
    assert [s["capacityProvider"] for s in strategy] == ["character-video-gpu-1x-ondemand"]
    assert run.tags[WILL_RETRY] == "true"


def test_a_run_without_placement_tag_falls_back_to_its_clusters_on_demand_provider(instance, imds):
    """Launched from the UI, a run has no placement tag; the monitor names the provider."""
    run = None
    for count in range(ON_DEMAND_AFTER):
        run = attempt(
            instance, imds.url, parent=run, on_demand_after=ON_DEMAND_AFTER, cluster="studio-b"
        )
        if count < ON_DEMAND_AFTER - 1:  # Spot until the fallback is due: the cluster default
            assert "ecs/run_task_kwargs" not in run.tags
    placement = json.loads(run.tags["ecs/run_task_kwargs"])
    assert placement["cluster"] == "studio-b"
    providers = [s["capacityProvider"] for s in placement["capacityProviderStrategy"]]
    assert providers == ["studio-b-gpu-1x-ondemand"]
    assert run.tags[WILL_RETRY] == "true"
