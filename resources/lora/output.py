"""What a finished LoRA training leaves: byte-reproducible safetensors files and a loss curve.

diffusers' `save_lora_weights` decides the key layout and its adapter metadata; the file is then
rewritten in a canonical form (tensors sorted by name, metadata keys sorted, no timestamps) with
the training's own metadata added, so the same training gives the same bytes and sha256. The
safetensors library itself writes metadata in hash-map order, which differs between processes.
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors import safe_open

from resources.storage.artifact_store import write_atomic

# The files every training backend leaves in its output folder; `apply_lora` loads LORA_FILE_2
# (Wan 2.2's low-noise expert) into `transformer_2` when present.
LORA_FILE = "pytorch_lora_weights.safetensors"
LORA_FILE_2 = "pytorch_lora_weights_transformer_2.safetensors"
LOSS_CURVE = "loss_curve.png"

_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
}


def canonical_safetensors(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors encoding of `tensors` with sorted keys and sorted `metadata`."""
    header: dict[str, Any] = {"__metadata__": dict(sorted(metadata.items()))}
    chunks, offset = [], 0
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        if tensor.dtype not in _DTYPES:
            raise TypeError(f"tensor {name} has dtype {tensor.dtype}, not storable here")
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            # A diverged training would otherwise publish a LoRA that renders black frames.
            raise ValueError(f"tensor {name} holds NaN or infinite values: not writing it")
        data = tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        header[name] = {
            "dtype": _DTYPES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8-byte alignment
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_lora_file(
    pipeline_class: type,
    out_file: Path,
    layers: dict[str, torch.Tensor],
    *,
    adapter_config: dict[str, Any],
    metadata: dict[str, str],
) -> None:
    """Save `layers` as the transformer LoRA of `pipeline_class`, canonically, with `metadata`."""
    with tempfile.TemporaryDirectory(dir=out_file.parent) as scratch:
        if hasattr(pipeline_class, "save_lora_weights"):
            pipeline_class.save_lora_weights(
                scratch,
                transformer_lora_layers=layers,
                transformer_lora_adapter_metadata=_sorted_config(adapter_config),
                weight_name=out_file.name,
                safe_serialization=True,
            )
        else:
            # No LoRA loader for this pipeline (HunyuanVideo 1.5): the layout diffusers' own
            # saver writes for every other family (`transformer.` prefixed peft keys, the adapter
            # config in the header), through the same saver.
            from diffusers.loaders.lora_base import LoraBaseMixin

            LoraBaseMixin._save_lora_weights(
                scratch,
                {"transformer": layers},
                {"transformer": _sorted_config(adapter_config)},
                weight_name=out_file.name,
            )
        with safe_open(Path(scratch) / out_file.name, framework="pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
            file_metadata = dict(handle.metadata() or {})
    clash = sorted(set(metadata) & set(file_metadata))
    if clash:
        raise ValueError(f"training metadata keys {clash} would overwrite diffusers' own")
    try:
        encoded = canonical_safetensors(tensors, {**file_metadata, **metadata})
    except ValueError as error:
        raise ValueError(f"LoRA {out_file}: {error}") from None
    write_atomic(out_file, encoded)


def _sorted_config(config: dict[str, Any]) -> dict[str, Any]:
    """peft keeps target modules in a set, whose order changes between processes: sort it."""
    return {k: sorted(v) if isinstance(v, set | frozenset) else v for k, v in config.items()}


def plot_losses(losses: list[float], out_file: Path, *, size: tuple[int, int] = (640, 320)) -> None:
    """A loss-per-step line chart as PNG (raw losses faint, a moving average bold)."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    pad = 36
    draw.rectangle([pad, 10, width - 10, height - pad], outline=(160, 160, 160))
    draw.text((pad, height - pad + 8), f"step 1 .. {len(losses)}", fill="black")
    if losses:
        lo, hi = min(losses), max(losses)
        draw.text((4, 10), f"{hi:.3g}", fill="black")
        draw.text((4, height - pad - 10), f"{lo:.3g}", fill="black")
        span = (hi - lo) or 1.0
        window = max(1, len(losses) // 20)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid").tolist()

        def points(values: list[float], offset: int) -> list[tuple[float, float]]:
            n = max(1, len(losses) - 1)
            return [
                (
                    pad + (i + offset) * (width - pad - 10) / n,
                    height - pad - (v - lo) / span * (height - pad - 10),
                )
                for i, v in enumerate(values)
            ]

        if len(losses) > 1:
            draw.line(points(losses, 0), fill=(170, 190, 230), width=1)
            draw.line(points(smooth, window - 1), fill=(20, 60, 180), width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_atomic(out_file, buffer.getvalue())
