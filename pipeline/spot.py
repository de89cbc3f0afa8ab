"""Where GPU runs go on AWS, and how Dagster retries them: the tags every GPU job carries.

* `ecs/run_task_kwargs` names the capacity provider (one- or four-GPU Spot hosts, created by
  terraform/ecs.tf as `<cluster>-gpu-1x-spot` / `<cluster>-gpu-4x-spot`), and
  `ecs/container_overrides` asks ECS for the GPUs; dagster-aws's EcsRunLauncher passes both to
  RunTask.
* Run retries relaunch a failed run from its failed step. `dagster/max_retries` is the budget for
  genuine errors (small: a bug fails fast); a Spot notice raises the budget of the run it hits by
  one (resources/runtime/spot_monitor.py), so preemptions never eat into it.
* After `ON_DEMAND_AFTER` interruptions of one run, with the on-demand fallback deployed, the
  relaunch asks for the on-demand provider instead.
"""

from __future__ import annotations

import json
import os
from typing import Any

ENV_CLUSTER = "CHARACTER_VIDEO_ECS_CLUSTER"
ENV_ON_DEMAND = "CHARACTER_VIDEO_ON_DEMAND_FALLBACK"
DEFAULT_CLUSTER = "character-video"
GPU_SHAPES = {1: "gpu-1x", 4: "gpu-4x"}  # GPUs per host -> terraform's group name
GENUINE_ERROR_RETRIES = 2  # retries of a run that failed for a reason other than Spot
ON_DEMAND_AFTER = 3  # Spot interruptions of one run before it falls back to on-demand
GPU_POOL = "gpu"  # Dagster concurrency pool: its limit is the number of GPUs in the fleet
GPUS_TAG = "character_video/gpus"


def cluster_name() -> str:
    return os.environ.get(ENV_CLUSTER) or DEFAULT_CLUSTER


def capacity_provider(gpus: int, *, spot: bool = True, cluster: str | None = None) -> str:
    """The ECS capacity provider for hosts with `gpus` GPUs (as terraform names it)."""
    if gpus not in GPU_SHAPES:
        raise ValueError(f"gpus={gpus}: GPU hosts come with {' or '.join(map(str, GPU_SHAPES))}")
    return f"{cluster or cluster_name()}-{GPU_SHAPES[gpus]}-{'spot' if spot else 'ondemand'}"


def run_task_kwargs(gpus: int, *, spot: bool = True) -> dict[str, Any]:
    """RunTask arguments for a run on `gpus`-GPU hosts: the cluster and the capacity provider."""
    return {
        "cluster": cluster_name(),
        "capacityProviderStrategy": [
            {"capacityProvider": capacity_provider(gpus, spot=spot), "weight": 1, "base": 0}
        ],
    }


def gpu_job_tags(gpus: int = 1) -> dict[str, str]:
    """Tags of a job whose steps need `gpus` GPUs: placement, GPU count and retry policy."""
    return {
        "ecs/run_task_kwargs": json.dumps(run_task_kwargs(gpus), sort_keys=True),
        "ecs/container_overrides": json.dumps(
            {"resourceRequirements": [{"type": "GPU", "value": str(gpus)}]}
        ),
        "dagster/max_retries": str(GENUINE_ERROR_RETRIES),
        "dagster/retry_on_asset_or_op_failure": "true",
        "dagster/retry_strategy": "FROM_FAILURE",
        GPUS_TAG: str(gpus),
    }


def on_demand_after() -> int:
    """Interruptions before the fallback to on-demand; 0 where no on-demand hosts exist."""
    return ON_DEMAND_AFTER if os.environ.get(ENV_ON_DEMAND, "0") == "1" else 0
