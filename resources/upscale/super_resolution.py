"""Real-ESRGAN upscaling through spandrel, and fitting frames to the deliverable resolution."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # spandrel (with torchvision, torch._dynamo) is imported where a model loads
    from spandrel import ImageModelDescriptor

FIT_MODES = ("fit", "crop")
# What spandrel's ModelLoader can read.
_WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
# Frames resized per interpolate call: bounds the temporary tensors at 1080p while still
# amortising the per-call overhead.
_RESIZE_CHUNK = 8


class UpscalerWeightsError(ValueError):
    """An upscaler weights file that is missing, unreadable, or not the model that was asked for."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"upscaler weights {self.path}: {problem}")


def load_upscaler(
    weights: Path,
    *,
    device: str = "cpu",
    half: bool = False,
    expected_scale: int | None = None,
) -> ImageModelDescriptor:
    """Load a super-resolution model (e.g. Real-ESRGAN) from `weights` in eval mode on `device`."""
    from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError

    weights = Path(weights)
    if not weights.is_file():
        raise UpscalerWeightsError(weights, "file not found")
    if weights.suffix.lower() not in _WEIGHT_SUFFIXES:
        raise UpscalerWeightsError(
            weights, f"unsupported suffix {weights.suffix!r} (use {', '.join(_WEIGHT_SUFFIXES)})"
        )
    loader = ModelLoader(device=device)
    try:
        state = loader.load_state_dict_from_file(weights)
    # torch.load / safetensors raise a zoo of types for damaged files (RuntimeError, EOFError,
    # UnpicklingError, SafetensorError, ...); all of them mean the same thing here.
    except Exception as exc:
        raise UpscalerWeightsError(
            weights, f"cannot read the file (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(state, dict) or not state:
        raise UpscalerWeightsError(weights, "the file does not hold a state dict")
    try:
        descriptor = loader.load_from_state_dict(state)
    except UnsupportedModelError as exc:
        raise UpscalerWeightsError(
            weights, "not a model architecture spandrel recognises (not a super-resolution model)"
        ) from exc
    # A detected architecture whose tensors do not fit it fails inside spandrel's builder or
    # load_state_dict with RuntimeError, KeyError, IndexError, ... depending on what is off.
    except Exception as exc:
        raise UpscalerWeightsError(
            weights, f"weights do not fit the detected architecture: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.purpose != "SR":
        purpose = getattr(descriptor, "purpose", type(descriptor).__name__)
        raise UpscalerWeightsError(
            weights, f"{descriptor.architecture.name} model with purpose {purpose!r}, not 'SR'"
        )
    if (descriptor.input_channels, descriptor.output_channels) != (3, 3):
        raise UpscalerWeightsError(
            weights,
            f"model maps {descriptor.input_channels} to {descriptor.output_channels} channels; "
            "RGB frames need 3 to 3",
        )
    if expected_scale is not None and descriptor.scale != expected_scale:
        raise UpscalerWeightsError(
            weights, f"model upscales {descriptor.scale}x, expected {expected_scale}x"
        )
    if half and device.startswith("cuda") and descriptor.supports_half:
        descriptor.half()
    return descriptor.eval()


def _check_frames(frames: np.ndarray, name: str = "frames") -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (N, H, W, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {frames.dtype}")


def _to_tensor(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    # torch.from_numpy warns on read-only arrays (e.g. np.frombuffer views); copy those.
    if not frames.flags.writeable:
        frames = frames.copy()
    # Move uint8 to the device before widening: a quarter of the bytes to transfer.
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2)


def _run_tiled(
    model: ImageModelDescriptor, batch: torch.Tensor, tile: int, overlap: int
) -> torch.Tensor:
    """Upscale (n, 3, h, w) in tile x tile pieces, each run with `overlap` pixels of context.

    Only each tile's own region is kept from its output; the context is cut away, so a pixel
    sees the same neighbourhood as in whole-frame inference as long as `overlap` covers the
    network's effective receptive field: no seams, no blending.
    """
    n, c, h, w = batch.shape
    s = model.scale
    out = torch.empty((n, c, h * s, w * s), dtype=batch.dtype, device=batch.device)
    for y0 in range(0, h, tile):
        y1 = min(y0 + tile, h)
        top, bottom = max(0, y0 - overlap), min(h, y1 + overlap)
        for x0 in range(0, w, tile):
            x1 = min(x0 + tile, w)
            left, right = max(0, x0 - overlap), min(w, x1 + overlap)
            piece = model(batch[:, :, top:bottom, left:right])
            oy, ox = (y0 - top) * s, (x0 - left) * s
            out[:, :, y0 * s : y1 * s, x0 * s : x1 * s] = piece[
                :, :, oy : oy + (y1 - y0) * s, ox : ox + (x1 - x0) * s
            ]
    return out


def upscale_frames(
    model: ImageModelDescriptor,
    frames: np.ndarray,
    *,
    batch_size: int = 4,
    tile: int = 0,
    overlap: int = 16,
) -> np.ndarray:
    """Upscale (N, H, W, 3) uint8 frames to (N, H*s, W*s, 3) uint8 with `model`, in batches.

    `tile` > 0 runs each frame in tiles of that many input pixels with `overlap` pixels of
    context on every side (bounded GPU memory for large frames); 0 runs whole frames.
    """
    _check_frames(frames)
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be at least 1")
    if tile < 0 or overlap < 0:
        raise ValueError(f"tile={tile}, overlap={overlap}: must not be negative")
    n, h, w, _ = frames.shape
    scale = model.scale
    out = np.empty((n, h * scale, w * scale, 3), dtype=np.uint8)
    device, dtype = model.device, model.dtype
    whole = tile == 0 or (tile >= h and tile >= w)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            chunk = frames[start : start + batch_size]
            x = _to_tensor(chunk, device).to(dtype).div_(255.0)
            y = model(x) if whole else _run_tiled(model, x, tile, overlap)
            # Round in float32: fp16 cannot represent every x/255 * 255 step exactly.
            y = y.float().clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
            out[start : start + len(chunk)] = y.permute(0, 2, 3, 1).cpu().numpy()
    return out


def _target_size(h: int, w: int, width: int, height: int, mode: str) -> tuple[int, int]:
    pick = min if mode == "fit" else max
    factor = pick(width / w, height / h)
    new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    # Rounding can miss the target by a pixel either way; snap the matched side to it exactly.
    if mode == "fit":
        return min(new_h, height), min(new_w, width)
    return max(new_h, height), max(new_w, width)


def fit_to_resolution(
    frames: np.ndarray, width: int, height: int, *, mode: str = "fit"
) -> np.ndarray:
    """Resize (N, h, w, 3) uint8 frames to (N, height, width, 3): letterbox ("fit") or "crop"."""
    if mode not in FIT_MODES:
        raise ValueError(f"mode={mode!r}: expected one of {', '.join(FIT_MODES)}")
    if width < 1 or height < 1:
        raise ValueError(f"width={width}, height={height}: both must be positive")
    _check_frames(frames)
    n, h, w, _ = frames.shape
    new_h, new_w = _target_size(h, w, width, height, mode)
    out = np.zeros((n, height, width, 3), dtype=np.uint8)  # zeros: the black bars of "fit"
    top, left = abs(height - new_h) // 2, abs(width - new_w) // 2
    # Antialiasing only matters (and only costs) when shrinking.
    antialias = new_h < h or new_w < w
    for start in range(0, n, _RESIZE_CHUNK):
        chunk = frames[start : start + _RESIZE_CHUNK]
        if (new_h, new_w) == (h, w):
            resized = chunk
        else:
            # uint8 in, uint8 out: torch's CPU uint8 bicubic kernels are ~7x faster than float32
            # at 1080p and saturate bicubic's overshoot to [0, 255] themselves (the clamp).
            x = _to_tensor(chunk, torch.device("cpu"))
            y = F.interpolate(
                x, size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=antialias
            )
            resized = y.permute(0, 2, 3, 1).numpy()
        stop = start + len(chunk)
        if mode == "fit":
            out[start:stop, top : top + new_h, left : left + new_w] = resized
        else:
            out[start:stop] = resized[:, top : top + height, left : left + width]
    return out
