"""Jobs: the whole chain for one client/character partition."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

CHAIN = ["character_brief", "reference_images", "character_lora", "video_clips", "deliverables"]

character_video_job = define_asset_job(
    name="character_video",
    selection=AssetSelection.assets(*CHAIN),
    description="Brief to 1080p deliverable for one client's character.",
)
