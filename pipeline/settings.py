"""Run-time settings from the environment, and the resources they configure."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pipeline.inbox import BriefInbox
from pipeline.spot import on_demand_after
from resources.lora.trainer import LoraTrainer
from resources.models.model_store import ModelStore
from resources.runtime.spot_monitor import SpotMonitor
from resources.stills.image_generator import ImageGenerator
from resources.storage.artifact_store import ArtifactStore
from resources.storage.s3_artifact_store import S3ArtifactStore
from resources.upscale.final_cut import Upscaler
from resources.video.generator import VideoGenerator

ENV_ROOT = "CHARACTER_VIDEO_ROOT"  # artifact root (default ./artifacts)
ENV_PROFILE = "CHARACTER_VIDEO_PROFILE"  # tiny | production
ENV_INBOX = "CHARACTER_VIDEO_INBOX"  # folder(s) or s3://bucket/prefix/, ":"-separated
ENV_MODELS = "CHARACTER_VIDEO_MODELS"  # model folder (default <root>/_models)
ENV_CACHE = "CHARACTER_VIDEO_CACHE"  # local working copy of an s3:// root
ENV_SPOT = "CHARACTER_VIDEO_SPOT_MONITOR"  # 1: poll IMDS for Spot notices (set on AWS)
ENV_SPOT_POLL = "CHARACTER_VIDEO_SPOT_POLL_S"  # seconds between polls (default 5)
PROFILES = ("tiny", "production")


def resource_defs(
    *,
    root: str | Path | None = None,
    profile: str | None = None,
    inbox: list[str] | None = None,
    models_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Every resource the assets need, from arguments or else the environment."""
    root_setting = str(root or os.environ.get(ENV_ROOT, "artifacts"))
    store: ArtifactStore
    if root_setting.startswith("s3://"):
        # Work happens in a local cache; S3 holds the published versions and mirrored units.
        root = Path(os.environ.get(ENV_CACHE, "artifacts-cache")).resolve()
        store = S3ArtifactStore(url=root_setting, root=str(root))
    else:
        root = Path(root_setting).resolve()
        store = ArtifactStore(root=str(root))
    profile = profile or os.environ.get(ENV_PROFILE, "tiny")
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r} is not one of {', '.join(PROFILES)}")
    models = models_dir or os.environ.get(ENV_MODELS) or root / "_models"
    # ":" separates entries, except the one in "s3://".
    paths = inbox or re.split(r":(?!//)", os.environ.get(ENV_INBOX, "examples"))
    return {
        "artifact_store": store,
        "model_store": ModelStore(profile=profile, models_dir=str(Path(models).resolve())),
        "inbox": BriefInbox(paths=[str(p) for p in paths]),
        "image_generator": ImageGenerator(),
        "lora_trainer": LoraTrainer(),
        "video_generator": VideoGenerator(),
        "upscaler": Upscaler(),
        "spot_monitor": SpotMonitor(
            enabled=os.environ.get(ENV_SPOT, "0") == "1",
            poll_seconds=float(os.environ.get(ENV_SPOT_POLL, "5")),
            on_demand_after=on_demand_after(),
        ),
    }
