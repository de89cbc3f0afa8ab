"""What LoRA training produces on the tiny models: lower loss, a LoRA that steers the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from lora_support import CAPTIONS, build_model, make_stills, render_args, train
from safetensors import safe_open
from safetensors.torch import load_file

from resources.lora.dataset import bucket_for, dataset_hash
from resources.lora.trainer import LOSS_CURVE, LoraTrainer
from resources.video.generator import apply_lora, load_video_pipeline, render_clip

# CogVideoX trains with its v-prediction DDPM objective, Mochi with inverted-timestep flow, LTX-2
# on its video velocity beside a clean audio frame, Kandinsky 5 channels-last with its visual
# condition, HunyuanVideo 1.5 with its condition latents (and a file diffusers has no loader for).
FAMILIES = [
    "hunyuan_video",
    "wan21_t2v_1_3b",
    "ltx_video",
    "cogvideox_5b",
    "mochi_1",
    "ltx_2",
    "kandinsky5_lite",
    "hunyuan_video_1_5",
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lora_training")


@pytest.fixture(scope="module")
def stills(root: Path) -> list[Path]:
    return make_stills(root / "stills")


@pytest.fixture(scope="module")
def ltx(root: Path, stills: list[Path]) -> dict:
    model, model_dir = build_model("ltx_video", root / "models")
    result = train(LoraTrainer(), model, model_dir, stills, root / "ltx", steps=16)
    return {"model": model, "model_dir": model_dir, "result": result}


@pytest.mark.parametrize("name", FAMILIES)
def test_training_lowers_the_fixed_evaluation_loss(
    root: Path, stills: list[Path], name: str
) -> None:
    model, model_dir = build_model(name, root / "models")
    result = train(LoraTrainer(), model, model_dir, stills, root / f"eval-{name}", steps=12)
    assert result.eval_loss_after < result.eval_loss_before
    assert len(result.losses) == 12 and (root / f"eval-{name}" / LOSS_CURVE).is_file()


def test_lora_file_carries_the_training_metadata(ltx: dict, stills: list[Path]) -> None:
    with safe_open(ltx["result"].lora_file, framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["base_model_id"] == "Lightricks/LTX-Video"
    assert metadata["base_model_revision"] == "main"
    assert metadata["trigger"] == "drana"
    assert (metadata["rank"], metadata["alpha"], metadata["steps"]) == ("4", "4.0", "16")
    assert metadata["dataset_sha256"] == dataset_hash(stills, list(CAPTIONS))


def test_adapter_strength_scales_the_loras_effect_on_the_clip(ltx: dict) -> None:
    model = ltx["model"]
    pipe = load_video_pipeline(ltx["model_dir"], model)
    args = render_args(model)
    base = render_clip(pipe, model, **args).astype(np.int32)
    difference = {}
    for strength in (0.0, 0.5, 1.0):
        apply_lora(pipe, ltx["result"].lora_file, strength)
        frames = render_clip(pipe, model, **args).astype(np.int32)
        difference[strength] = np.abs(frames - base).mean()
    assert difference[0.0] == 0.0
    assert 0.0 < difference[0.5] < difference[1.0]


def test_full_caption_dropout_makes_the_captions_irrelevant(root: Path, stills: list[Path]) -> None:
    model, model_dir = build_model("ltx_video", root / "models")
    other = ["someone else entirely"] * len(stills)

    def weights(dropout: float, captions: list[str], tag: str) -> dict[str, torch.Tensor]:
        trainer = LoraTrainer(caption_dropout=dropout)
        result = train(trainer, model, model_dir, stills, root / tag, steps=4, captions=captions)
        return load_file(result.lora_file)

    def same(a: dict, b: dict) -> bool:
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    assert same(weights(1.0, list(CAPTIONS), "drop-a"), weights(1.0, other, "drop-b"))
    assert not same(weights(0.0, list(CAPTIONS), "keep-a"), weights(0.0, other, "keep-b"))


def test_gradient_checkpointing_trains_the_same_lora(root: Path, stills: list[Path]) -> None:
    model, model_dir = build_model("ltx_video", root / "models")
    with_ckpt = train(
        LoraTrainer(gradient_checkpointing=True), model, model_dir, stills, root / "gc-on", steps=4
    )
    without = train(
        LoraTrainer(gradient_checkpointing=False),
        model,
        model_dir,
        stills,
        root / "gc-off",
        steps=4,
    )
    a, b = load_file(with_ckpt.lora_file), load_file(without.lora_file)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_fp8_base_stores_frozen_weights_as_float8_and_still_trains(
    root: Path, stills: list[Path]
) -> None:
    model, model_dir = build_model("ltx_video", root / "models")
    result = train(LoraTrainer(fp8_base=True), model, model_dir, stills, root / "fp8", steps=12)
    assert result.base_bytes.get("float8_e4m3fn", 0) > 0
    lora = load_file(result.lora_file)
    assert all(t.dtype == torch.float32 for t in lora.values())
    assert any(k.endswith("lora_B.weight") and t.abs().sum() > 0 for k, t in lora.items())
    assert result.eval_loss_after < result.eval_loss_before


@pytest.mark.parametrize(
    ("size", "bucket"),
    [((64, 64), (80, 80)), ((96, 64), (96, 64)), ((64, 96), (64, 96)), ((400, 100), (112, 64))],
)
def test_bucket_keeps_aspect_and_area_on_the_size_grid(
    size: tuple[int, int], bucket: tuple[int, int]
) -> None:
    assert bucket_for(size, (112, 64), 16) == bucket
