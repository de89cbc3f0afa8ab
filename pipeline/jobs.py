"""Jobs: the whole chain for one client/character partition."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from assets.notifications import run_failed, run_finished
from pipeline.spot import gpu_job_tags
from resources.domain.chain import RUN_NAMES

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
)
