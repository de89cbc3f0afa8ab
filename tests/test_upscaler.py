"""Upscaler: tiny Real-ESRGAN weights through spandrel, upscaling, and fitting to 1920x1080."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from resources.tiny.realesrgan import build_tiny_realesrgan
from resources.upscale.super_resolution import (
    UpscalerWeightsError,
    fit_to_resolution,
    load_upscaler,
    upscale_frames,
)

GREY = 200


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    build_tiny_realesrgan(folder / "RealESRGAN_x4plus.pth", scale=4)
    build_tiny_realesrgan(folder / "RealESRGAN_x2plus.pth", scale=2)
    return folder


@pytest.fixture(scope="module")
def x4(weights_dir: Path):
    return load_upscaler(weights_dir / "RealESRGAN_x4plus.pth")


def _frames(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tiny_x4_weights_load_as_4x_super_resolution_model(weights_dir: Path) -> None:
    model = load_upscaler(weights_dir / "RealESRGAN_x4plus.pth", expected_scale=4)
    assert (model.architecture.name, model.purpose, model.scale) == ("ESRGAN", "SR", 4)
    assert not model.model.training


def test_tiny_x2_weights_load_as_2x_model_and_double_the_size(weights_dir: Path) -> None:
    model = load_upscaler(weights_dir / "RealESRGAN_x2plus.pth", expected_scale=2)
    out = upscale_frames(model, _frames(2, 72, 128))
    assert model.scale == 2
    assert out.shape == (2, 144, 256, 3)


def test_tiny_weights_saved_as_safetensors_load_too(tmp_path: Path) -> None:
    build_tiny_realesrgan(tmp_path / "x4.safetensors", scale=4)
    assert load_upscaler(tmp_path / "x4.safetensors").scale == 4


def test_building_tiny_weights_twice_gives_identical_bytes(tmp_path: Path) -> None:
    build_tiny_realesrgan(tmp_path / "a.pth", scale=4, seed=3)
    build_tiny_realesrgan(tmp_path / "b.pth", scale=4, seed=3)
    assert _sha256(tmp_path / "a.pth") == _sha256(tmp_path / "b.pth")


def test_upscale_gives_exactly_4x_uint8_frames(x4) -> None:
    out = upscale_frames(x4, _frames(3, 72, 128))
    assert out.shape == (3, 288, 512, 3)
    assert out.dtype == np.uint8
    assert out.std() > 0  # real pixels, not a constant image


def test_batched_upscale_matches_one_frame_at_a_time(x4) -> None:
    frames = _frames(5, 36, 64, seed=1)
    batched = upscale_frames(x4, frames, batch_size=4)
    single = np.concatenate([upscale_frames(x4, f[None], batch_size=1) for f in frames])
    # Convolution kernels may sum in a different order per batch size: allow one rounding step.
    assert np.abs(batched.astype(int) - single.astype(int)).max() <= 1


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_weights_file_raises_naming_the_file(
    weights_dir: Path, tmp_path: Path, damage: str
) -> None:
    good = (weights_dir / "RealESRGAN_x4plus.pth").read_bytes()
    bad = tmp_path / f"{damage}.pth"
    bad.write_bytes(good[: len(good) // 2] if damage == "truncated" else b"\x00not a model" * 50)
    with pytest.raises(UpscalerWeightsError, match=bad.name):
        load_upscaler(bad)


def test_state_dict_of_some_other_network_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "classifier.pth"
    torch.save({"fc1.weight": torch.randn(8, 4), "fc1.bias": torch.randn(8)}, path)
    with pytest.raises(UpscalerWeightsError, match=path.name):
        load_upscaler(path)


def test_1x_restoration_model_is_not_accepted_as_an_upscaler(tmp_path: Path) -> None:
    path = tmp_path / "restore_1x.pth"
    build_tiny_realesrgan(path, scale=1)
    with pytest.raises(UpscalerWeightsError, match="not 'SR'"):
        load_upscaler(path)


def test_wrong_expected_scale_raises_naming_the_file(weights_dir: Path) -> None:
    path = weights_dir / "RealESRGAN_x2plus.pth"
    with pytest.raises(UpscalerWeightsError, match=rf"{path.name}.*2x, expected 4x"):
        load_upscaler(path, expected_scale=4)


def test_missing_weights_file_raises_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(UpscalerWeightsError, match="absent.pth"):
        load_upscaler(tmp_path / "absent.pth")


@pytest.mark.parametrize("mode", ["fit", "crop"])
def test_16_9_input_fills_1920x1080_without_bars(mode: str) -> None:
    frames = np.full((2, 72, 128, 3), GREY, dtype=np.uint8)
    out = fit_to_resolution(frames, 1920, 1080, mode=mode)
    assert out.shape == (2, 1080, 1920, 3)
    assert out.min() == out.max() == GREY


def test_fit_4_3_input_is_pillarboxed_with_centered_black_bars() -> None:
    frames = np.full((2, 72, 96, 3), GREY, dtype=np.uint8)
    out = fit_to_resolution(frames, 1920, 1080, mode="fit")
    # 96x72 scales by 15 to 1440x1080: (1920 - 1440) / 2 = 240 black columns on each side.
    assert out.shape == (2, 1080, 1920, 3)
    assert out[:, :, :240].max() == 0
    assert out[:, :, 1680:].max() == 0
    assert out[:, :, 240:1680].min() == GREY


def test_crop_4_3_input_fills_the_frame_and_cuts_top_and_bottom() -> None:
    frames = np.full((2, 72, 96, 3), GREY, dtype=np.uint8)
    frames[:, :4] = (255, 0, 0)  # a red band the crop must remove (top 4 of 9 cropped rows)
    out = fit_to_resolution(frames, 1920, 1080, mode="crop")
    # 96x72 scales by 20 to 1920x1440; 180 rows (9 source rows) go at the top and the bottom.
    assert out.shape == (2, 1080, 1920, 3)
    assert out.min() == out.max() == GREY


def test_unknown_fit_mode_raises_naming_mode() -> None:
    with pytest.raises(ValueError, match="mode"):
        fit_to_resolution(np.zeros((1, 8, 8, 3), np.uint8), 16, 16, mode="stretch")


@pytest.mark.parametrize("architecture", ["RRDBNet", "SRVGGNetCompact"])
@pytest.mark.parametrize("scale", [4, 2])
def test_tiled_upscale_matches_whole_frame_without_seams(
    tmp_path: Path, architecture: str, scale: int
) -> None:
    path = tmp_path / "model.pth"
    build_tiny_realesrgan(path, scale=scale, architecture=architecture)
    model = load_upscaler(path)
    frames = _frames(2, 72, 120, seed=4)
    whole = upscale_frames(model, frames).astype(int)
    tiled = upscale_frames(model, frames, tile=32, overlap=16).astype(int)
    assert tiled.shape == whole.shape
    # Seams would show at the tile borders (every 32 input pixels): compare there and overall.
    borders = [32 * scale * k + d for k in (1, 2, 3) for d in (-1, 0)]
    assert np.abs(tiled[:, :, borders] - whole[:, :, borders]).max() <= 1
    assert np.abs(tiled - whole).max() <= 1


def test_tiny_general_x4v3_loads_as_compact_4x_model(tmp_path: Path) -> None:
    path = tmp_path / "realesr-general-x4v3.pth"
    build_tiny_realesrgan(path, scale=4, architecture="SRVGGNetCompact")
    model = load_upscaler(path, expected_scale=4)
    assert (model.architecture.name, model.purpose) == ("RealESRGAN Compact", "SR")
    assert upscale_frames(model, _frames(1, 18, 32)).shape == (1, 72, 128, 3)
