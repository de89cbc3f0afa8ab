"""Shots: memory plans on the CPU, per-shot manifests, retries, and CPU worker processes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from resources.domain.registry import VIDEO_MODELS, MemoryPlan, RenderSize
from resources.domain.tiers import tier_recipe
from resources.runtime.interruption import WorkInterrupted
from resources.tiny.video import build_tiny_video_pipeline
from resources.video.generator import (
    ShotRequest,
    VideoGenerator,
    attention_backend,
    load_video_pipeline,
    render_clip,
)

MODEL = VIDEO_MODELS["wan21_t2v_1_3b"]
SHOTS = [
    ShotRequest("intro", "drana smiles", "blurry", seed=3, num_frames=5, duration_s=0.3),
    ShotRequest("middle", "drana nods", "flicker", seed=5, num_frames=9, duration_s=0.5),
    ShotRequest("outro", "drana waves", "blurry", seed=4, num_frames=5, duration_s=0.3),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / MODEL.name
    build_tiny_video_pipeline(MODEL, folder)
    return folder


@pytest.fixture(scope="module")
def lora_file(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random LoRA on the attention projections, in diffusers' saved layout."""
    pipe = load_video_pipeline(model_dir, MODEL)
    generator = torch.Generator().manual_seed(0)
    layers = {}
    for name, module in pipe.transformer.named_modules():
        if name.endswith(("attn1.to_q", "attn1.to_v")):
            rank = 2
            layers[f"transformer.{name}.lora_A.weight"] = torch.randn(
                rank, module.in_features, generator=generator
            )
            layers[f"transformer.{name}.lora_B.weight"] = torch.randn(
                module.out_features, rank, generator=generator
            )
    path = tmp_path_factory.mktemp("lora") / "character_lora.safetensors"
    save_file(layers, path)
    return path


def _render(pipe) -> np.ndarray:
    return render_clip(
        pipe,
        MODEL,
        prompt="drana waves",
        negative_prompt="blurry",
        num_frames=5,
        width=MODEL.tiny.width,
        height=MODEL.tiny.height,
        steps=2,
        guidance_scale=MODEL.guidance_scale,
        seed=0,
    )


def _render_shots(generator: VideoGenerator, model_dir: Path, lora: Path, out: Path, **kw):
    size = RenderSize(MODEL.tiny.width, MODEL.tiny.height, 1)
    settings = generator.settings(
        MODEL, tier_recipe(MODEL, "final"), size, {}, lora_file=lora, lora_strength=0.8
    )
    return generator.render_shots(
        model_dir,
        MODEL,
        SHOTS,
        {shot.id: out / "shots" / shot.id for shot in SHOTS},
        settings,
        log=lambda _: None,
        **kw,
    )


def _digests(out: Path) -> dict[str, str]:
    return {
        shot.id: hashlib.sha256((out / "shots" / shot.id / "clip.mp4").read_bytes()).hexdigest()
        for shot in SHOTS
    }


def test_group_offload_plan_on_cpu_renders_the_same_frames(model_dir: Path) -> None:
    plain = _render(load_video_pipeline(model_dir, MODEL))
    offloaded = load_video_pipeline(
        model_dir, MODEL, plan=MemoryPlan(gpu_gb=24, offload="group", vae_tiling=True)
    )
    np.testing.assert_array_equal(_render(offloaded), plain)


def test_fp8_layerwise_plan_stores_transformer_weights_in_float8(model_dir: Path) -> None:
    pipe = load_video_pipeline(
        model_dir, MODEL, plan=MemoryPlan(gpu_gb=24, offload="group", fp8_layerwise=True)
    )
    dtypes = {p.dtype for p in pipe.transformer.parameters()}
    frames = _render(pipe)
    assert torch.float8_e4m3fn in dtypes
    plain = _render(load_video_pipeline(model_dir, MODEL))
    # Storage rounding only: the clip stays close to the full-precision one.
    assert np.abs(frames.astype(int) - plain.astype(int)).mean() < 2.0


def test_vae_tiling_plan_turns_tiling_on(model_dir: Path) -> None:
    pipe = load_video_pipeline(model_dir, MODEL, plan=MemoryPlan(gpu_gb=24, vae_tiling=True))
    assert pipe.vae.use_tiling


def test_first_block_cache_is_attached_and_renders(model_dir: Path) -> None:
    pipe = load_video_pipeline(model_dir, MODEL, cache_threshold=0.05)
    frames = _render(pipe)
    assert pipe.transformer.is_cache_enabled
    assert frames.shape == (5, MODEL.tiny.height, MODEL.tiny.width, 3)


def test_attention_is_native_without_flash_attn_on_cpu() -> None:
    assert attention_backend("auto", "cpu") == "native"
    with pytest.raises(ValueError, match="flash-attn"):
        attention_backend("flash", "cpu")


def test_every_model_has_a_plan_for_each_gpu_class() -> None:
    for model in VIDEO_MODELS.values():
        plans = [model.memory_plan(gb) for gb in (22.5, 44.5, 79.2)]
        assert [p.gpu_gb for p in plans] == [24, 48, 80], model.name


def test_shot_manifest_records_prompt_seed_steps_model_lora_and_timings(
    model_dir: Path, lora_file: Path, tmp_path: Path
) -> None:
    _render_shots(VideoGenerator(preset="ultrafast"), model_dir, lora_file, tmp_path)
    record = json.loads((tmp_path / "shots" / "middle" / "shot.json").read_text())
    lora_sha = hashlib.sha256(lora_file.read_bytes()).hexdigest()
    assert (record["prompt"], record["negative_prompt"], record["seed"]) == (
        "drana nods",
        "flicker",
        5,
    )
    assert (record["steps"], record["num_frames"], record["fps"]) == (1, 9, MODEL.native_fps)
    assert record["model"]["name"] == MODEL.name
    assert record["lora"] == {"file": lora_file.name, "sha256": lora_sha, "strength": 0.8}
    assert set(record["timings"]) == {"load_s", "render_s", "encode_s"}
    assert all(v > 0 for v in record["timings"].values())


def test_retry_renders_only_the_missing_shot(
    model_dir: Path, lora_file: Path, tmp_path: Path
) -> None:
    generator = VideoGenerator(preset="ultrafast")
    _render_shots(generator, model_dir, lora_file, tmp_path)
    before = _digests(tmp_path)
    kept = {s.id: (tmp_path / "shots" / s.id / "shot.json").stat().st_mtime_ns for s in SHOTS}
    # An interrupted attempt: the middle shot's manifest was never written.
    (tmp_path / "shots" / "middle" / "shot.json").unlink()
    again = _render_shots(generator, model_dir, lora_file, tmp_path)
    assert [s.reused for s in again] == [True, False, True]
    for shot_id in ("intro", "outro"):
        assert (tmp_path / "shots" / shot_id / "shot.json").stat().st_mtime_ns == kept[shot_id]
    assert _digests(tmp_path) == before  # the re-rendered shot is the same clip


@pytest.mark.slow  # a concurrency test: two worker processes render the shots
def test_two_cpu_workers_give_the_same_clips_as_one_process(
    model_dir: Path, lora_file: Path, tmp_path: Path
) -> None:
    _render_shots(VideoGenerator(preset="ultrafast"), model_dir, lora_file, tmp_path / "one")
    parallel = _render_shots(
        VideoGenerator(preset="ultrafast", workers=2), model_dir, lora_file, tmp_path / "two"
    )
    assert [s.id for s in parallel] == [s.id for s in SHOTS]
    assert _digests(tmp_path / "two") == _digests(tmp_path / "one")
    devices = {
        json.loads((tmp_path / "two" / "shots" / s.id / "shot.json").read_text())["device"]
        for s in SHOTS
    }
    assert devices == {"cpu"}


def test_stop_between_shots_keeps_finished_shots_and_raises(
    model_dir: Path, lora_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(WorkInterrupted, match="spot interruption"):
        _render_shots(
            VideoGenerator(preset="ultrafast"),
            model_dir,
            lora_file,
            tmp_path,
            stop=lambda: "spot interruption",
        )
    finished = sorted(p.parent.name for p in tmp_path.glob("shots/*/shot.json"))
    assert finished == ["intro"]
