"""Where GPU runs go on AWS, and how Dagster retries them: the tags every GPU job carries.

* A job's own tags do not depend on the deployment (importing the code location reads no
  environment): `ecs/container_overrides` asks ECS for the GPUs, `character_video/gpus` says
  how many, and the retry policy. `placement_tags` adds `ecs/run_task_kwargs`, which names the
  cluster and the capacity provider (one- or four-GPU Spot hosts, created by terraform/ecs.tf as
  `<cluster>-gpu-1x-spot` / `<cluster>-gpu-4x-spot`), when a run is submitted: the sensor, the
  schedule and the CLI take the cluster from pipeline.settings. A run launched from the UI has
  no placement tag: the launcher's cluster (deploy/dagster.yaml) and that cluster's default
  provider (one-GPU Spot) take it, and the Spot monitor names the on-demand provider itself.
* Run retries relaunch a failed run from its failed step. `dagster/max_retries` is the budget for
  genuine errors (small: a bug fails fast); a Spot notice raises the budget of the run it hits by
  one (resources/runtime/spot_monitor.py), so preemptions never eat into it.
* After `ON_DEMAND_AFTER` interruptions of one run, with the on-demand fallback deployed, the
  relaunch asks for the on-demand provider instead.
"""

from __future__ import annotations

import json

from resources.domain.placement import (
    DEFAULT_CLUSTER,
    GPU_SHAPES,
    GPUS_TAG,
    RUN_TASK_KWARGS_TAG,
    capacity_provider,
    run_task_kwargs,
)

__all__ = [
    "DEFAULT_CLUSTER",
    "GENUINE_ERROR_RETRIES",
    "GPU_SHAPES",
    "GPUS_TAG",
    "ON_DEMAND_AFTER",
    "capacity_provider",
    "gpu_job_tags",
    "on_demand_after",
    "placement_tags",
    "run_task_kwargs",
]

GENUINE_ERROR_RETRIES = 2  # retries of a run that failed for a reason other than Spot
ON_DEMAND_AFTER = 3  # Spot interruptions of one run before it falls back to on-demand


def gpu_job_tags(gpus: int = 1) -> dict[str, str]:
    """Tags of a job whose steps need `gpus` GPUs: GPU count and retry policy (no cluster)."""
    if gpus not in GPU_SHAPES:
        raise ValueError(f"gpus={gpus}: GPU hosts come with {' or '.join(map(str, GPU_SHAPES))}")
    return {
        "ecs/container_overrides": json.dumps(
            {"resourceRequirements": [{"type": "GPU", "value": str(gpus)}]}
        ),
        "dagster/max_retries": str(GENUINE_ERROR_RETRIES),
        "dagster/retry_on_asset_or_op_failure": "true",
        "dagster/retry_strategy": "FROM_FAILURE",
        GPUS_TAG: str(gpus),
    }


def placement_tags(job_tags: dict[str, str], *, cluster: str) -> dict[str, str]:
    """The `ecs/run_task_kwargs` tag for a run of a job with `job_tags` on `cluster`."""
    gpus = int(job_tags.get(GPUS_TAG, "1"))
    return {RUN_TASK_KWARGS_TAG: json.dumps(run_task_kwargs(gpus, cluster=cluster), sort_keys=True)}


def on_demand_after(fallback_deployed: bool) -> int:
    """Interruptions before the fallback to on-demand; 0 where no on-demand hosts exist."""
    return ON_DEMAND_AFTER if fallback_deployed else 0
