"""Jobs: the whole chain for one client/character partition."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from pipeline.spot import gpu_job_tags

CHAIN = ["character_brief", "reference_images", "character_lora", "video_clips", "deliverables"]

character_video_job = define_asset_job(
    name="character_video",
    selection=AssetSelection.assets(*CHAIN),
    description="Brief to 1080p deliverable for one client's character.",
    # On AWS: a one-GPU Spot host per run, relaunched from the failed step after a preemption.
    tags=gpu_job_tags(gpus=1),
)
