"""Tiny in-code models: real diffusers pipelines that reload from disk and build reproducibly."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import diffusers
import pytest
import torch

from resources.domain.registry import SDXL, VIDEO_MODELS, VideoModel
from resources.tiny.sdxl import build_tiny_sdxl
from resources.tiny.video import build_tiny_video_pipeline

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODELS = sorted(VIDEO_MODELS)
# The published checkpoints' VAE spatial compression (Wan 2.2 TI2V: 2x2 patchify on top of 8x).
SPATIAL_COMPRESSION = {
    "hunyuan_video": 8,
    "wan21_t2v_1_3b": 8,
    "wan21_t2v_14b": 8,
    "wan22_t2v_a14b": 8,
    "wan22_ti2v_5b": 16,
    "ltx_video": 32,
    "cogvideox_5b": 8,
    "holocine_14b": 8,
    "holocine_14b_sparse": 8,
    "mochi_1": 8,
    "ltx_2": 32,
    "ltx_2_5": 32,
    "kandinsky5_lite": 8,  # HunyuanVideo's VAE
    "kandinsky5_pro": 8,
    "hunyuan_video_1_5": 16,
}
# And their temporal compression: LTX-Video 8x, Mochi 6x, the others 4x (CogVideoX's frame rule
# is 8k+1, but its VAE compresses time 4x).
TEMPORAL_COMPRESSION = {
    name: {"ltx_video": 8, "ltx_2": 8, "ltx_2_5": 8, "mochi_1": 6}.get(name, 4)
    for name in SPATIAL_COMPRESSION
}


def _build(name: str, out_dir: Path) -> None:
    if name == SDXL.name:
        build_tiny_sdxl(out_dir)
    else:
        build_tiny_video_pipeline(VIDEO_MODELS[name], out_dir)


def _load(name: str, folder: Path) -> diffusers.DiffusionPipeline:
    cls_name = SDXL.pipeline_class if name == SDXL.name else VIDEO_MODELS[name].pipeline_class
    return getattr(diffusers, cls_name).from_pretrained(folder, local_files_only=True)


def _weight_digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.safetensors"))
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_models")
    for name in [*MODELS, SDXL.name]:
        _build(name, root / name)
    return {name: root / name for name in [*MODELS, SDXL.name]}


@pytest.mark.parametrize("name", MODELS)
def test_video_pipeline_reloads_as_registry_classes(built: dict[str, Path], name: str) -> None:
    model = VIDEO_MODELS[name]
    pipe = _load(name, built[name])
    assert type(pipe).__name__ == model.pipeline_class
    assert type(pipe.transformer).__name__ == model.transformer_class


@pytest.mark.parametrize("name", MODELS)
def test_video_vae_compresses_like_the_real_model(built: dict[str, Path], name: str) -> None:
    model = VIDEO_MODELS[name]
    spatial = SPATIAL_COMPRESSION[name]
    vae = _load(name, built[name]).vae
    frames = 2 * model.frame_multiple + 1  # a valid count
    latent_frames = (frames - 1) // TEMPORAL_COMPRESSION[name] + 1
    video = torch.zeros(1, 3, frames, model.tiny.height, model.tiny.width)
    with torch.no_grad():
        latents = vae.encode(video).latent_dist.mode()
    assert latents.shape[2:] == (
        latent_frames,
        model.tiny.height // spatial,
        model.tiny.width // spatial,
    )


@pytest.mark.parametrize("name", MODELS)
def test_video_scheduler_uses_registry_flow_shift(built: dict[str, Path], name: str) -> None:
    model = VIDEO_MODELS[name]
    config = _load(name, built[name]).scheduler.config
    if model.family == "cogvideox":
        assert (config.prediction_type, config.rescale_betas_zero_snr) == ("v_prediction", True)
    elif model.family == "mochi":
        assert config.invert_sigmas and not config.use_dynamic_shifting
    elif model.flow_shift is None:
        assert config.use_dynamic_shifting
    else:
        assert (config.shift, config.use_dynamic_shifting) == (model.flow_shift, False)


def test_sdxl_reloads_and_renders_at_tiny_size(built: dict[str, Path]) -> None:
    pipe = _load(SDXL.name, built[SDXL.name])
    image = pipe(
        "drana, portrait",
        width=SDXL.tiny.width,
        height=SDXL.tiny.height,
        num_inference_steps=1,
        generator=torch.Generator().manual_seed(0),
    ).images[0]
    assert image.size == (SDXL.tiny.width, SDXL.tiny.height)


@pytest.mark.parametrize("name", [*MODELS, SDXL.name])
def test_building_twice_gives_identical_weights(
    built: dict[str, Path], name: str, tmp_path: Path
) -> None:
    _build(name, tmp_path / name)
    first, second = _weight_digests(built[name]), _weight_digests(tmp_path / name)
    assert first  # there are weight files to compare
    assert first == second


@pytest.mark.parametrize("name", [*MODELS, SDXL.name])
def test_unknown_trigger_word_tokenizes_within_vocabulary(
    built: dict[str, Path], name: str
) -> None:
    pipe = _load(name, built[name])
    pairs = [("tokenizer", "text_encoder"), ("tokenizer_2", "text_encoder_2")]
    checked = 0
    for tokenizer_name, encoder_name in pairs:
        tokenizer = getattr(pipe, tokenizer_name, None)
        if tokenizer is None:
            continue
        # Kandinsky 5 reads its prompt through Qwen2.5-VL's processor, around the tokenizer.
        tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
        ids = tokenizer("drana, a woman with red hair").input_ids
        config = getattr(pipe, encoder_name).config
        # Gemma 3 (LTX-2) keeps its vocabulary in the text config.
        assert max(ids) < getattr(config, "text_config", config).vocab_size
        assert "drana" in tokenizer.decode(ids, skip_special_tokens=True)
        checked += 1
    assert checked >= 1


def test_wan22_a14b_has_two_experts_that_hand_over_at_the_boundary(
    built: dict[str, Path],
) -> None:
    model = VIDEO_MODELS["wan22_t2v_a14b"]
    pipe = _load(model.name, built[model.name])
    assert type(pipe.transformer_2).__name__ == model.transformer_class
    assert pipe.config.boundary_ratio == model.boundary_ratio == 0.875
    first = dict(pipe.transformer.named_parameters())
    second = dict(pipe.transformer_2.named_parameters())
    assert any(not torch.equal(first[k], second[k]) for k in first)  # two experts, not one


def test_wan22_ti2v_uses_48_channel_latents_and_expanded_timesteps(
    built: dict[str, Path],
) -> None:
    pipe = _load("wan22_ti2v_5b", built["wan22_ti2v_5b"])
    assert (pipe.vae.config.z_dim, pipe.transformer.config.in_channels) == (48, 48)
    assert pipe.config.expand_timesteps is True


def test_rebuilding_replaces_folder_without_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "ltx"
    target.mkdir()
    (target / "stale.txt").write_text("from an older build")
    build_tiny_video_pipeline(VIDEO_MODELS["ltx_video"], target)
    assert not (target / "stale.txt").exists()
    assert (target / "model_index.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ltx"]


def test_unknown_family_is_refused(tmp_path: Path) -> None:
    model: VideoModel = dataclasses.replace(VIDEO_MODELS["ltx_video"], family="mochi")
    with pytest.raises(ValueError, match="mochi"):
        build_tiny_video_pipeline(model, tmp_path / "mochi")
    assert not any(tmp_path.iterdir())
