"""Tiny Real-ESRGAN checkpoints with fixed random weights, in the published key layouts.

* RRDBNet: the keys and wrapping of `RealESRGAN_x4plus.pth` / `RealESRGAN_x2plus.pth`
  (`{"params_ema": state_dict}`);
* SRVGGNetCompact: the keys and wrapping of `realesr-general-x4v3.pth` (`{"params": ...}`),

only narrower and shallower, so the production loader (spandrel) detects and runs them exactly as
it would the real weights.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_save

from resources.storage.permissions import FILE_MODE

# Real-ESRGAN keeps the RRDBNet trunk at 4x and gets smaller scales by pixel-unshuffling the input:
# x2plus feeds 3 * 2**2 = 12 channels, a 1x model 3 * 4**2 = 48. spandrel reads the scale back
# from exactly this (conv_first in-channels vs conv_last out-channels).
_UNSHUFFLE = {4: 1, 2: 2, 1: 4}
# spandrel 0.4.x builds every RRDB with a hard-coded growth of 32 channels and loads strictly, so
# a file with any other growth is valid Real-ESRGAN but cannot be loaded by the production path.
SPANDREL_GROW_CH = 32


def _conv(
    out_ch: int, in_ch: int, generator: torch.Generator, std_scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    # He-style scale keeps activations from exploding or dying through the dense blocks, so the
    # random model produces varied pixels rather than a clamped flat image.
    std = std_scale * (2.0 / (in_ch * 9)) ** 0.5
    weight = torch.randn(out_ch, in_ch, 3, 3, generator=generator) * std
    bias = torch.randn(out_ch, generator=generator) * 0.01
    return weight, bias


def tiny_realesrgan_state_dict(
    scale: int = 4,
    num_feat: int = 8,
    num_block: int = 1,
    num_grow_ch: int = SPANDREL_GROW_CH,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Fixed random RRDBNet weights with Real-ESRGAN's key names, in the published key order."""
    if scale not in _UNSHUFFLE:
        raise ValueError(f"scale={scale}: Real-ESRGAN RRDBNet supports {sorted(_UNSHUFFLE)}")
    for name, value in (
        ("num_feat", num_feat),
        ("num_block", num_block),
        ("num_grow_ch", num_grow_ch),
    ):
        if value < 1:
            raise ValueError(f"{name}={value}: must be at least 1")
    generator = torch.Generator().manual_seed(seed)
    in_ch = 3 * _UNSHUFFLE[scale] ** 2
    state: dict[str, torch.Tensor] = {}

    def add(name: str, out_ch: int, in_ch: int, std_scale: float = 1.0) -> None:
        state[f"{name}.weight"], state[f"{name}.bias"] = _conv(out_ch, in_ch, generator, std_scale)

    add("conv_first", num_feat, in_ch)
    for block in range(num_block):
        for rdb in (1, 2, 3):
            prefix = f"body.{block}.rdb{rdb}"
            for conv in (1, 2, 3, 4):
                add(f"{prefix}.conv{conv}", num_grow_ch, num_feat + (conv - 1) * num_grow_ch)
            add(f"{prefix}.conv5", num_feat, num_feat + 4 * num_grow_ch)
    add("conv_body", num_feat, num_feat)
    add("conv_up1", num_feat, num_feat)
    add("conv_up2", num_feat, num_feat)
    add("conv_hr", num_feat, num_feat)
    # A small last layer keeps the output near its bias (mid grey) instead of saturating at 0 / 1.
    add("conv_last", 3, num_feat, std_scale=0.1)
    state["conv_last.bias"] = state["conv_last.bias"] + 0.5
    return state


def tiny_compact_state_dict(
    scale: int = 4, num_feat: int = 8, num_conv: int = 2, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Fixed random SRVGGNetCompact weights (conv, PReLU, ..., conv to 3*scale^2 channels)."""
    if scale < 1:
        raise ValueError(f"scale={scale}: must be at least 1")
    for name, value in (("num_feat", num_feat), ("num_conv", num_conv)):
        if value < 1:
            raise ValueError(f"{name}={value}: must be at least 1")
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    index = 0
    in_ch = 3
    for _ in range(num_conv + 1):  # the first conv, then the body convs, each with a PReLU
        state[f"body.{index}.weight"], state[f"body.{index}.bias"] = _conv(
            num_feat, in_ch, generator
        )
        state[f"body.{index + 1}.weight"] = torch.full((num_feat,), 0.25)
        index += 2
        in_ch = num_feat
    # The network adds its output to the nearest-upsampled input: a small last layer keeps the
    # result near the input instead of saturating.
    weight, bias = _conv(3 * scale * scale, num_feat, generator, std_scale=0.1)
    state[f"body.{index}.weight"], state[f"body.{index}.bias"] = weight, bias * 0
    return state


def build_tiny_realesrgan(
    out_file: Path,
    scale: int = 4,
    num_feat: int = 8,
    num_block: int = 1,
    num_grow_ch: int = SPANDREL_GROW_CH,
    seed: int = 0,
    architecture: str = "RRDBNet",
) -> None:
    """Write a tiny Real-ESRGAN checkpoint (.pth as published, or .safetensors)."""
    out_file = Path(out_file)
    if architecture == "RRDBNet":
        state = tiny_realesrgan_state_dict(scale, num_feat, num_block, num_grow_ch, seed)
        wrapper = "params_ema"
    elif architecture == "SRVGGNetCompact":
        state = tiny_compact_state_dict(scale, num_feat, seed=seed)
        wrapper = "params"
    else:
        raise ValueError(f"architecture={architecture!r}: expected 'RRDBNet' or 'SRVGGNetCompact'")
    suffix = out_file.suffix.lower()
    if suffix == ".safetensors":
        payload = safetensors_save(state)
    elif suffix == ".pth":
        buffer = io.BytesIO()
        # Saving to a buffer (not a path) keeps the archive's internal folder name fixed at
        # "archive"; torch derives it from the file name otherwise, and the temp name would leak in.
        torch.save({wrapper: state}, buffer)
        payload = buffer.getvalue()
    else:
        raise ValueError(f"out_file={out_file}: suffix must be .pth or .safetensors")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_file.name}.", suffix=".tmp", dir=out_file.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp_name, out_file)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
