"""Where a GPU run goes on AWS: the ECS capacity provider names terraform/ecs.tf creates.

The names contain the cluster's (`<cluster>-gpu-1x-spot`, `<cluster>-gpu-4x-ondemand`), which
is a deployment setting: callers pass it in (pipeline.settings reads it when a run is submitted
or starts), so nothing here depends on the environment.
"""

from __future__ import annotations

from typing import Any

DEFAULT_CLUSTER = "character-video"
GPU_SHAPES = {1: "gpu-1x", 4: "gpu-4x"}  # GPUs per host -> terraform's group name
GPUS_TAG = "character_video/gpus"  # a run's GPUs per host, a static job tag
RUN_TASK_KWARGS_TAG = "ecs/run_task_kwargs"  # dagster-aws's EcsRunLauncher reads it


def capacity_provider(gpus: int, *, cluster: str, spot: bool = True) -> str:
    """The ECS capacity provider for hosts with `gpus` GPUs (as terraform names it)."""
    if gpus not in GPU_SHAPES:
        raise ValueError(f"gpus={gpus}: GPU hosts come with {' or '.join(map(str, GPU_SHAPES))}")
    return f"{cluster}-{GPU_SHAPES[gpus]}-{'spot' if spot else 'ondemand'}"


def run_task_kwargs(gpus: int, *, cluster: str, spot: bool = True) -> dict[str, Any]:
    """RunTask arguments for a run on `gpus`-GPU hosts: the cluster and the capacity provider."""
    return {
        "cluster": cluster,
        "capacityProviderStrategy": [
            {
                "capacityProvider": capacity_provider(gpus, cluster=cluster, spot=spot),
                "weight": 1,
                "base": 0,
            }
        ],
    }
