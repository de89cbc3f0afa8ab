"""Kandinsky 5 (Lite, Pro) and HunyuanVideo 1.5: tiers, tier checkpoints, licences, the quote's
meta-device counts, and a brief on each family materialized to its final.mp4."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import small_brief, write_brief

from resources.domain.registry import VIDEO_MODELS, RenderSize
from resources.domain.tiers import HY15_480P_DISTILLED, K5_LITE_DISTILLED, tier_recipe
from resources.media.video_io import probe_video
from resources.models.model_store import ModelStore
from resources.quote.flops import FlopCache, transformer_forward
from resources.video.generator import VideoGenerator, load_video_pipeline, render_clip

NEW = ("kandinsky5_lite", "kandinsky5_pro", "hunyuan_video_1_5")


def test_kandinsky5_lite_drafts_with_its_16_step_distilled_checkpoint_without_cfg():
    model = VIDEO_MODELS["kandinsky5_lite"]
    final, draft = tier_recipe(model, "final"), tier_recipe(model, "draft")
    assert (final.steps, final.guidance_scale, final.checkpoint) == (50, 5.0, "")
    assert (final.width, final.height) == (768, 512)
    assert (draft.steps, draft.guidance_scale, draft.checkpoint) == (16, 1.0, K5_LITE_DISTILLED)
    assert not draft.cfg and draft.adapter is None


def test_hunyuan_video_1_5_drafts_at_480p_with_the_cfg_distilled_checkpoint():
    model = VIDEO_MODELS["hunyuan_video_1_5"]
    final, draft = tier_recipe(model, "final"), tier_recipe(model, "draft")
    assert (final.width, final.height, final.steps, final.guidance_scale) == (1280, 720, 50, 6.0)
    assert (draft.width, draft.height, draft.guidance_scale) == (848, 480, 1.0)
    assert draft.checkpoint == HY15_480P_DISTILLED and model.lora_loader == "peft"


def test_licences_are_data_hunyuan_excludes_eu_uk_and_korea_kandinsky_is_mit():
    hy = VIDEO_MODELS["hunyuan_video_1_5"].conditions
    assert {"GB", "KR", "DE", "FR"} <= set(hy.excluded_territories)
    for name in ("kandinsky5_lite", "kandinsky5_pro"):
        lic = VIDEO_MODELS[name].conditions
        assert lic.name == "MIT" and not lic.excluded_territories and not lic.non_commercial


@pytest.fixture(scope="module")
def tier_settings(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The draft and final settings of Kandinsky 5 Lite on the tiny profile, as video_clips
    resolves them (the draft's transformer from its own checkpoint folder)."""
    models = ModelStore(profile="tiny", models_dir=str(tmp_path_factory.mktemp("models")))
    model = VIDEO_MODELS["kandinsky5_lite"]
    generator, found = VideoGenerator(preset="ultrafast"), {}
    for tier in ("draft", "final"):
        recipe = tier_recipe(model, tier)
        found[tier] = generator.settings(
            model, recipe, RenderSize(96, 64, 2), {}, lora_file=None, lora_strength=1.0,
            checkpoint_dir=models.tier_checkpoint_dir(model, recipe),
        )  # fmt: skip
    return {"model": model, "dir": models.video_model_dir(model), **found}


def test_a_tier_checkpoint_enters_the_version_only_when_the_tier_has_one(tier_settings):
    draft, final = tier_settings["draft"], tier_settings["final"]
    assert len(draft.payload()["checkpoint"]) == 64
    assert "checkpoint" not in final.payload()  # every other unit keeps its version


def test_the_tier_checkpoint_s_transformer_renders_the_clip(tier_settings):
    model = tier_settings["model"]
    args = dict(prompt="drana waves", negative_prompt="", num_frames=5, width=96, height=64,
                steps=2, guidance_scale=1.0, seed=3)  # fmt: skip
    own = render_clip(load_video_pipeline(tier_settings["dir"], model), model, **args)
    pipe = load_video_pipeline(
        tier_settings["dir"], model, checkpoint_dir=tier_settings["draft"].checkpoint_dir
    )
    assert not np.array_equal(render_clip(pipe, model, **args), own)


# Transformer parameters of the meta-device builds against the published sizes (billions).
PUBLISHED_B = {"kandinsky5_lite": 2.0, "kandinsky5_pro": 19.0, "hunyuan_video_1_5": 8.3}


@pytest.mark.parametrize("name", NEW)
def test_the_quote_counts_one_forward_of_the_full_size_transformer_on_meta(name):
    model = VIDEO_MODELS[name]
    count = transformer_forward(
        FlopCache(None), name, width=model.native_width, height=model.native_height, frames=121
    )
    assert abs(count["params"] / 1e9 - PUBLISHED_B[name]) / PUBLISHED_B[name] < 0.06
    # At least two multiply-adds per parameter per token: the dense layers alone.
    assert count["flops"] > 2 * count["params"] * count["tokens"]


def test_hunyuan_1080p_keeps_real_esrgan_one_sr_step_costs_more_than_its_whole_pass():
    """Tencent's super-resolution runs the 8.3B transformer at 1080p: one of its steps against
    Real-ESRGAN x4plus over the same 121 frames, both counted by the quote on meta."""
    from resources.quote.flops import upscale_frame

    cache = FlopCache(None)
    sr_step = transformer_forward(cache, "hunyuan_video_1_5", width=1920, height=1088, frames=121)[
        "flops"
    ]
    esrgan = 121 * upscale_frame(cache, "RRDBNet", width=1280, height=720)["flops"]
    assert sr_step > 5 * esrgan


def _manifest(root: Path, asset: str) -> dict:
    folder = root / "acme-health" / "dr-ana" / asset
    version = json.loads((folder / "current.json").read_text())["version"]
    return json.loads((folder / version / "manifest.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "tier"), [("kandinsky5_lite", "draft"), ("hunyuan_video_1_5", "final")]
)
def test_a_brief_on_the_family_materializes_to_a_final(tmp_path, dagster_instance, name, tier):
    from test_chain import metadata, run_chain

    root = tmp_path / "artifacts"
    data = small_brief(
        video={"model": name, "fps": 24, "tier": tier},
        references={"count": 2},
        lora={"steps": 2, "rank": 2, "checkpoint_every": 1},
        shots=[{"id": "intro", "prompt": "she greets the camera", "duration_s": 0.5, "seed": 7}],
        deliverable={"resolution": [320, 180]},
    )
    outcome = run_chain(write_brief(tmp_path / "inbox", data), root, dagster_instance)
    assert outcome.success
    final = Path(metadata(outcome, "deliverables")["final"])
    assert probe_video(final).codec == "h264"
    clips = _manifest(root, "video_clips")
    (shot,) = clips["shots"]
    assert shot["tier"] == tier
    models = {m["name"]: m for m in clips["models"]}
    assert models[name]["licence"]["licence"] == VIDEO_MODELS[name].licence
    # Kandinsky 5 Lite's draft rendered with the distilled checkpoint: recorded, with its licence.
    if tier == "draft":
        checkpoint = models[f"{name}_draft_checkpoint"]
        assert checkpoint["licence"]["licence"] == "MIT" and len(checkpoint["sha256"]) == 64


def test_hunyuan_video_1_5_from_the_still_renders_with_tencent_s_distilled_i2v_checkpoints():
    from resources.domain.registry import reference_model_of
    from resources.domain.tiers import HY15_480P_I2V_STEP_DISTILLED, HY15_720P_I2V_DISTILLED

    reference = reference_model_of(VIDEO_MODELS["hunyuan_video_1_5"])
    final, draft = tier_recipe(reference, "final"), tier_recipe(reference, "draft")
    assert final.checkpoint == HY15_720P_I2V_DISTILLED and not final.cfg
    assert (final.width, final.height) == (reference.native_width, reference.native_height)
    assert draft.checkpoint == HY15_480P_I2V_STEP_DISTILLED and not draft.cfg
    assert draft.steps < final.steps / 4 and draft.flow_shift == final.flow_shift == 7.0


def test_the_step_distilled_i2v_checkpoint_loads_into_the_image_to_video_pipeline(tmp_path):
    """The tiny counterpart of the step-distilled transformer has the I2V layout: it loads into
    HunyuanVideo15ImageToVideoPipeline and renders the still differently from the model's own."""
    from PIL import Image

    from resources.domain.registry import reference_model_of

    models = ModelStore(profile="tiny", models_dir=str(tmp_path / "models"))
    reference = reference_model_of(VIDEO_MODELS["hunyuan_video_1_5"])
    recipe = tier_recipe(reference, "draft")
    folder = models.video_model_dir(reference)
    still = Image.fromarray(np.full((64, 96, 3), (200, 120, 90), dtype=np.uint8))
    args = dict(prompt="drana waves", negative_prompt="", num_frames=5, width=96, height=64,
                steps=2, guidance_scale=1.0, seed=3, image=still)  # fmt: skip
    own = render_clip(load_video_pipeline(folder, reference), reference, **args)
    checkpoint = models.tier_checkpoint_dir(reference, recipe)
    pipe = load_video_pipeline(folder, reference, checkpoint_dir=checkpoint)
    assert pipe.transformer.config.task_type == "i2v"
    distilled = render_clip(pipe, reference, **args)
    assert distilled.shape == own.shape and not np.array_equal(distilled, own)
