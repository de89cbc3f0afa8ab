"""Rendering clips with the tiny video pipelines: sizes, seeds, validation and LoRA loading."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict

from resources.domain.registry import VIDEO_MODELS, RenderSize, VideoModel
from resources.domain.tiers import tier_recipe
from resources.lora.output import write_lora_file
from resources.media.video_io import probe_video
from resources.tiny.video import build_tiny_video_pipeline
from resources.video.generator import (
    ShotRequest,
    VideoGenerator,
    attach_lora,
    load_video_pipeline,
    render_clip,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODELS = sorted(VIDEO_MODELS)
# Wan 2.1 14B's tiny build is Wan 2.1 1.3B's (only the registry's sizes and shift differ): the
# slower behaviours are checked once per distinct tiny architecture.
ARCHITECTURES = [name for name in MODELS if name != "wan21_t2v_14b"]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("video_models")
    for name in MODELS:
        build_tiny_video_pipeline(VIDEO_MODELS[name], root / name)
    return {name: root / name for name in MODELS}


@pytest.fixture(scope="module")
def pipes(model_dirs: dict[str, Path]) -> dict[str, object]:
    return {name: load_video_pipeline(model_dirs[name], VIDEO_MODELS[name]) for name in MODELS}


@pytest.fixture(scope="module")
def lora_files(
    model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """A random (non-zero) LoRA per family, saved the way diffusers saves trained ones."""
    root = tmp_path_factory.mktemp("loras")
    files = {}
    for name in ARCHITECTURES:
        model = VIDEO_MODELS[name]
        pipe = load_video_pipeline(model_dirs[name], model)
        torch.manual_seed(0)
        pipe.transformer.add_adapter(
            LoraConfig(
                r=4,
                lora_alpha=4,
                target_modules=list(model.lora_target_modules),
                init_lora_weights=False,  # random B too: an untrained LoRA would change nothing
            )
        )
        layers = get_peft_model_state_dict(pipe.transformer)
        files[name] = root / name / "pytorch_lora_weights.safetensors"
        (root / name).mkdir()
        # HunyuanVideo 1.5's pipeline has no saver: the trainer's writer uses diffusers' own.
        config = pipe.transformer.peft_config["default"].to_dict()
        write_lora_file(type(pipe), files[name], layers, adapter_config=config, metadata={})
    return files


def _render(pipe, model: VideoModel, *, seed: int = 0, **overrides) -> np.ndarray:
    args = {
        "prompt": "drana waves at the camera",
        "negative_prompt": "blurry",
        "num_frames": 2 * model.frame_multiple + 1,
        "width": model.tiny.width,
        "height": model.tiny.height,
        "steps": 2,
        "guidance_scale": model.guidance_scale,
        "seed": seed,
    }
    return render_clip(pipe, model, **{**args, **overrides})


_FIRST: dict[str, np.ndarray] = {}


def _first(pipes: dict, name: str) -> np.ndarray:
    """The family's first render with `_render`'s arguments (seed 0), kept: the other tests
    compare their renders with it instead of rendering it again."""
    if name not in _FIRST:
        _FIRST[name] = _render(pipes[name], VIDEO_MODELS[name])
    return _FIRST[name]


@pytest.mark.parametrize("name", MODELS)
def test_clip_has_requested_frames_size_and_dtype(pipes: dict, name: str) -> None:
    model = VIDEO_MODELS[name]
    frames = _first(pipes, name)
    expected = (2 * model.frame_multiple + 1, model.tiny.height, model.tiny.width, 3)
    assert (frames.shape, frames.dtype) == (expected, np.uint8)


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_gives_identical_frames(pipes: dict, name: str) -> None:
    model = VIDEO_MODELS[name]
    # A later render on the same pipeline, whatever it rendered in between.
    np.testing.assert_array_equal(_render(pipes[name], model), _first(pipes, name))


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_different_seed_gives_different_frames(pipes: dict, name: str) -> None:
    model = VIDEO_MODELS[name]
    assert not np.array_equal(_render(pipes[name], model, seed=1), _first(pipes, name))


@pytest.mark.parametrize("name", MODELS)
def test_frame_count_off_the_rule_is_refused(pipes: dict, name: str) -> None:
    model = VIDEO_MODELS[name]
    with pytest.raises(ValueError, match="num_frames"):
        _render(pipes[name], model, num_frames=model.frame_multiple + 2)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("param", ["width", "height"])
def test_size_off_the_family_multiple_is_refused(pipes: dict, name: str, param: str) -> None:
    model = VIDEO_MODELS[name]
    with pytest.raises(ValueError, match=param):
        _render(pipes[name], model, **{param: getattr(model.tiny, param) + 8})


def test_lora_file_that_is_not_safetensors_is_refused(pipes: dict, tmp_path: Path) -> None:
    pickle_lora = tmp_path / "character_lora.bin"
    pickle_lora.write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="character_lora.bin"):
        attach_lora(pipes["ltx_video"], VIDEO_MODELS["ltx_video"], pickle_lora, 1.0)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_lora_changes_the_clip_and_strength_zero_does_not(
    pipes: dict, model_dirs: dict[str, Path], lora_files: dict[str, Path], name: str
) -> None:
    model = VIDEO_MODELS[name]
    pipe = load_video_pipeline(model_dirs[name], model)  # its own: the adapter stays on it
    base = _first(pipes, name)  # the same weights without an adapter
    attach_lora(pipe, model, lora_files[name], 1.0)
    with_lora = _render(pipe, model)
    # The same adapter name again: replaced, not an error.
    attach_lora(pipe, model, lora_files[name], 0.0)
    at_zero = _render(pipe, model)
    assert not np.array_equal(base, with_lora)
    np.testing.assert_array_equal(base, at_zero)


def test_render_shots_writes_clips_and_keeps_finished_ones(
    model_dirs: dict[str, Path], lora_files: dict[str, Path], tmp_path: Path
) -> None:
    model = VIDEO_MODELS["wan21_t2v_1_3b"]
    shots = [
        ShotRequest("intro", "drana smiles", "blurry", seed=3, num_frames=5, duration_s=0.3),
        ShotRequest("outro", "drana waves", "blurry", seed=4, num_frames=9, duration_s=0.5),
    ]
    generator = VideoGenerator(preset="ultrafast")
    settings = generator.settings(
        model,
        tier_recipe(model, "final"),
        RenderSize(model.tiny.width, model.tiny.height, 1),
        {},
        lora_file=lora_files[model.name],
        lora_strength=0.8,
    )
    folders = {shot.id: tmp_path / "shots" / shot.id for shot in shots}
    quiet = {"log": lambda _: None}
    first = generator.render_shots(model_dirs[model.name], model, shots, folders, settings, **quiet)
    again = generator.render_shots(model_dirs[model.name], model, shots, folders, settings, **quiet)
    infos = [probe_video(shot.clip) for shot in first]
    size = (model.tiny.width, model.tiny.height)
    assert [(i.width, i.height, i.frame_count) for i in infos] == [(*size, 5), (*size, 9)]
    assert [shot.reused for shot in first + again] == [False, False, True, True]
