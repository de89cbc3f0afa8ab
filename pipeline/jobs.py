"""Jobs: the whole chain for one client/character partition."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, multi_or_in_process_executor

from assets.notifications import run_failed, run_finished
from pipeline.spot import gpu_job_tags
from resources.domain.chain import RUN_NAMES

# What every step process of a launched run has imported before its step starts. The steps of a run
# the daemon, the UI or ECS launches each run in their own process; forked from one server that
# imported these once, a step skips importing torch, Dagster, the chain and transformers again
# (about 4 s of CPU each on the 2-core test machine). diffusers is not here: importing it asks
# CUDA how many devices there are (diffusers.utils.torch_utils), and a process forked after that
# question cannot use the GPU; tests/test_definitions.py checks that none of these asks.
STEP_PRELOAD = ("pipeline.definitions", "transformers.modeling_utils")


def _steps_from_a_preloaded_server(config: dict | None) -> dict:
    """The run's executor config, with steps forked from a server that imported STEP_PRELOAD
    unless the run config chose in-process execution or its own start method."""
    config = dict(config or {"multiprocess": {}})
    if "multiprocess" not in config:
        return config
    multiprocess = dict(config["multiprocess"] or {})
    multiprocess.setdefault("start_method", {"forkserver": {"preload_modules": list(STEP_PRELOAD)}})
    return {"multiprocess": multiprocess}


step_executor = multi_or_in_process_executor.configured(
    _steps_from_a_preloaded_server, config_schema=multi_or_in_process_executor.config_field
)

character_video_job = define_asset_job(
    name="character_video",
    # The chain in order plus the client's report: what every brief run materializes, whoever
    # launches it (sensor, schedule, review app, CLI, the UI's job page).
    selection=AssetSelection.assets(*RUN_NAMES),
    description="Brief to 1080p deliverable (and the client's report) for one client's character.",
    # On AWS: one GPU per run, relaunched from the failed step after a preemption. Which hosts
    # (the cluster's capacity providers) is added when a run is submitted: pipeline/spot.py.
    tags=gpu_job_tags(gpus=1),
    # A webhook when a run finishes or fails (CHARACTER_VIDEO_WEBHOOK_URL; docs/operations.md).
    hooks={run_failed, run_finished},
    executor_def=step_executor,
)
