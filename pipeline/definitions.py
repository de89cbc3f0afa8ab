"""The code location: every asset, check, job and resource of the character-video pipeline."""

from __future__ import annotations

from dagster import Definitions

from assets.character_brief import character_brief
from assets.character_lora import character_lora
from assets.client_report import client_report
from assets.deliverables import deliverables
from assets.narration import narration
from assets.reference_images import reference_images
from assets.video_clips import video_clips
from pipeline.jobs import character_video_job, step_executor
from pipeline.schedules import nightly_briefs
from pipeline.sensors import brief_inbox_sensor
from pipeline.settings import code_location_resources
from resources.domain.chain import CHAIN_NAMES, RUN_NAMES

_BY_NAME = {
    a.key.path[-1]: a
    for a in (
        character_brief,
        reference_images,
        character_lora,
        narration,
        video_clips,
        deliverables,
        client_report,
    )
}
# In the chain's order (resources.domain.chain); a stage without an asset fails here, loudly.
ASSETS = [_BY_NAME[name] for name in CHAIN_NAMES]
# What one brief's run produces: the chain plus the client's report (the sensor's runs too).
RUN_ASSETS = [_BY_NAME[name] for name in RUN_NAMES]

defs = Definitions(
    assets=RUN_ASSETS,
    jobs=[character_video_job],
    sensors=[brief_inbox_sensor],
    schedules=[nightly_briefs],
    resources=code_location_resources(),
    # Every other job too: the one the UI builds when a producer clicks "Materialize" on the asset
    # graph spawned each step as a fresh interpreter (~10 s of imports per step) with Dagster's
    # default executor; its steps fork from the preloaded server as the chain's job's do.
    executor=step_executor,
)
