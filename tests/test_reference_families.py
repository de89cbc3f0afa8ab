"""Each family that conditions on the reference still, through the one render path.

For every registry model with an image-to-video checkpoint (`reference_model`), the same shot is
rendered by `VideoGenerator.render_shots` three ways on the tiny profile: the character LoRA alone
(the text-to-video pipeline), the approved still alone and both (the family's image-to-video
pipeline, the still as its `image`). The decoded clips differ pairwise, and the identity scorer
scores each against the still. The whole chain on Wan 2.2 is tests/test_reference_still.py.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from lora_support import make_stills, train
from PIL import Image

from resources.domain.registry import VIDEO_MODELS, reference_capable, reference_model_of
from resources.domain.render import ShotRequest
from resources.domain.tiers import tier_recipe
from resources.lora.trainer import LoraTrainer
from resources.media.video_io import read_video
from resources.models.model_store import ModelStore
from resources.qc.identity import IdentityScorer, load_backbone, scorer_models
from resources.storage.artifact_store import sha256_file
from resources.video.generator import CLIP, VideoGenerator

# One model of each family (LTX-2.5 renders through the very same classes as LTX-2).
FAMILIES = list({VIDEO_MODELS[n].family: n for n in reversed(reference_capable())}.values())


@pytest.fixture(scope="module")
def store() -> ModelStore:
    return ModelStore(profile="tiny", models_dir=os.environ["CHARACTER_VIDEO_MODELS"])


@pytest.fixture(scope="module")
def scorer(store: ModelStore) -> IdentityScorer:
    backbones = [load_backbone(store.vision_model_dir(m), m) for m in scorer_models()]
    return IdentityScorer(backbones)


def _settings(store: ModelStore, model, condition: str, lora_file: Path | None):
    recipe = tier_recipe(model, "final")
    folder = store.video_model_dir(model)
    record = store.record(model.name, model.repo_id, model.revision, folder)
    return VideoGenerator(crf=0, preset="ultrafast").settings(
        model,
        recipe,
        store.tier_size(model, recipe),
        record,
        lora_file=lora_file,
        lora_strength=1.0 if lora_file else 0.0,
        condition=condition,
    )


def _decoded(folder: Path) -> np.ndarray:
    return np.concatenate(list(read_video(folder / CLIP))).astype(np.int16)


@pytest.mark.parametrize("name", FAMILIES)
def test_lora_still_and_both_render_differently_and_are_scored(name, store, scorer, tmp_path):
    model = VIDEO_MODELS[name]
    reference = reference_model_of(model)
    stills = make_stills(tmp_path / "stills")
    lora = train(LoraTrainer(), model, store.video_model_dir(model), stills, tmp_path / "lora")
    still = stills[1]  # the landscape still
    frames = max(reference.min_frames, model.frame_multiple + 1)
    shot = ShotRequest("s", "drana waves", "", 3, frames, frames / model.native_fps)
    with_still = replace(shot, reference_still=sha256_file(still))
    runs = {
        "lora": (model, _settings(store, model, "lora", lora.lora_file), shot),
        "reference": (reference, _settings(store, reference, "reference", None), with_still),
        "both": (reference, _settings(store, reference, "both", lora.lora_file), with_still),
    }
    clips, scores = {}, {}
    references = scorer.embed([Image.open(still).convert("RGB")])
    for condition, (renderer, settings, request) in runs.items():
        folder = tmp_path / condition
        VideoGenerator(crf=0, preset="ultrafast").render_shots(
            store.video_model_dir(renderer),
            renderer,
            [request],
            {"s": folder},
            settings,
            log=lambda _: None,
            still_files={"s": still} if request.reference_still else None,
        )
        clips[condition] = _decoded(folder)
        scores[condition] = scorer.score_clip(folder / CLIP, references).identity
    for a, b in (("lora", "reference"), ("lora", "both"), ("reference", "both")):
        assert clips[a].shape == clips[b].shape
        assert np.abs(clips[a] - clips[b]).mean() > 0.0, (name, a, b)
    for condition, found in scores.items():
        assert set(found) == {m.name for m in scorer_models()}, condition
        assert all(np.isfinite(v) for v in found.values()), (condition, found)
