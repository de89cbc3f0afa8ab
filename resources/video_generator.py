"""Text-to-video rendering through diffusers: HunyuanVideo, Wan 2.1 and LTX-Video pipelines.

One code path for every family and profile: the pipeline class named in the registry is loaded
from a local folder, the character LoRA is attached through diffusers' LoRA loader, and each clip
is rendered with a CPU-seeded generator so the same seed gives the same clip.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import torch
from dagster import ConfigurableResource
from PIL import Image

from resources.artifact_store import write_atomic, write_json
from resources.interruption import StopCheck, stop_if_asked
from resources.model_registry import VideoModel
from resources.video_io import write_video

# Pixel sizes each family's pipeline accepts: VAE spatial compression x transformer patch size
# (HunyuanVideo 8x2, Wan 8x2, LTX-Video 32x1). The pipelines reject or silently round others.
SIZE_MULTIPLE: dict[str, int] = {"hunyuan": 16, "wan": 16, "ltx": 32}


def load_video_pipeline(
    model_dir: Path,
    model: VideoModel,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> diffusers.DiffusionPipeline:
    """Load `model`'s pipeline class from the local folder `model_dir` onto `device`."""
    model_dir = Path(model_dir)
    if not (model_dir / "model_index.json").is_file():
        raise FileNotFoundError(
            f"{model_dir} is not a diffusers pipeline folder (no model_index.json) for "
            f"{model.name}; resolve it through the model store first"
        )
    pipeline_class = getattr(diffusers, model.pipeline_class, None)
    if pipeline_class is None:
        raise ValueError(
            f"registry entry {model.name!r} names pipeline {model.pipeline_class!r}, which "
            f"diffusers {diffusers.__version__} does not provide"
        )
    # local_files_only: a folder path must never turn into a Hub lookup.
    pipe = pipeline_class.from_pretrained(model_dir, dtype=dtype, local_files_only=True)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    if not str(device).startswith("cpu"):
        # Decoding a full-size clip in one pass needs tens of GB; tiles trade a little speed.
        pipe.vae.enable_tiling()
    return pipe


def apply_lora(
    pipe: Any, lora_file: Path, strength: float, adapter_name: str = "character"
) -> None:
    """Attach the LoRA in `lora_file` (.safetensors) to `pipe` at `strength`.

    Only safetensors files are read, never pickle. A LoRA whose keys or shapes do not fit the
    pipeline's transformer is refused with the mismatch named. For a two-expert pipeline (Wan
    2.2), `<stem>_transformer_2.safetensors` beside `lora_file`, if present, goes into
    `transformer_2`.
    """
    lora_file = Path(lora_file)
    if lora_file.suffix != ".safetensors":
        raise ValueError(
            f"LoRA file {lora_file} is not a .safetensors file; only safetensors LoRAs are "
            f"loaded (pickle formats can run code on load)"
        )
    if not lora_file.is_file():
        raise FileNotFoundError(f"LoRA file {lora_file} does not exist")
    if not np.isfinite(strength):
        raise ValueError(f"strength={strength} for LoRA {lora_file.name}: must be a finite number")
    parts: list[tuple[str, Path]] = [("transformer", lora_file)]
    second = lora_file.with_name(f"{lora_file.stem}_transformer_2.safetensors")
    if getattr(pipe, "transformer_2", None) is not None and second.is_file():
        parts.append(("transformer_2", second))
    for component, path in parts:
        _check_lora_fits(pipe, component, path)
    if adapter_name in _adapter_names(pipe):
        # Re-applying under the same name replaces the earlier weights instead of failing.
        pipe.delete_adapters(adapter_name)
    for component, path in parts:
        extra = {"load_into_transformer_2": True} if component == "transformer_2" else {}
        # use_safetensors=True: diffusers would otherwise fall back to torch.load (pickle).
        pipe.load_lora_weights(
            str(path.parent),
            weight_name=path.name,
            adapter_name=adapter_name,
            use_safetensors=True,
            **extra,
        )
    pipe.set_adapters([adapter_name], [strength])


def _check_lora_fits(pipe: Any, component: str, lora_file: Path) -> None:
    """Raise ValueError, naming the model and the mismatch, if the LoRA does not fit."""
    what = f"{type(pipe).__name__} ({pipe.name_or_path or 'in memory'}) {component}"
    try:
        state = pipe.lora_state_dict(
            str(lora_file.parent), weight_name=lora_file.name, use_safetensors=True
        )
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise ValueError(f"LoRA file {lora_file} could not be read as a LoRA: {error}") from error
    if isinstance(state, tuple):
        state = state[0]
    modules = dict(getattr(pipe, component).named_modules())
    unknown, wrong_shape = [], []
    for key, tensor in state.items():
        name = key.removeprefix("transformer.")
        module_name, sep, rest = name.partition(".lora_")
        module = modules.get(module_name) if sep and key.startswith("transformer.") else None
        if module is None:
            unknown.append(key)
            continue
        base = getattr(module, "base_layer", module)
        if isinstance(base, torch.nn.Linear) and rest.startswith(("A.", "B.")):
            expected = base.in_features if rest.startswith("A.") else base.out_features
            got = tensor.shape[1] if rest.startswith("A.") else tensor.shape[0]
            if got != expected:
                wrong_shape.append(f"{key} has {got} features where the model has {expected}")
    if not state:
        raise ValueError(f"LoRA {lora_file.name} holds no LoRA weights for {what}")
    problems = []
    if unknown:
        problems.append(
            f"{len(unknown)} of {len(state)} keys name no layer of the model (e.g. {unknown[0]})"
        )
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shapes differ (e.g. {wrong_shape[0]})")
    if problems:
        raise ValueError(f"LoRA {lora_file.name} does not fit {what}: {'; '.join(problems)}")


def _adapter_names(pipe: Any) -> set[str]:
    return {name for names in pipe.get_list_adapters().values() for name in names}


def check_clip_request(model: VideoModel, *, num_frames: int, width: int, height: int) -> None:
    """Raise ValueError, naming the parameter, if `model` cannot render this frame count or size."""
    if num_frames < 1 or (num_frames - 1) % model.frame_multiple:
        below = max(0, (num_frames - 1) // model.frame_multiple) * model.frame_multiple + 1
        raise ValueError(
            f"num_frames={num_frames} is not valid for {model.name}: it must be "
            f"{model.frame_multiple}*k+1 (e.g. {below} or {below + model.frame_multiple})"
        )
    multiple = SIZE_MULTIPLE[model.family]
    for name, value in (("width", width), ("height", height)):
        if value < multiple or value % multiple:
            raise ValueError(
                f"{name}={value} is not valid for {model.name}: it must be a positive multiple "
                f"of {multiple}"
            )


def render_clip(
    pipe: Any,
    model: VideoModel,
    *,
    prompt: str,
    negative_prompt: str,
    num_frames: int,
    width: int,
    height: int,
    steps: int,
    guidance_scale: float,
    seed: int,
) -> np.ndarray:
    """Render one clip as (num_frames, height, width, 3) uint8 RGB; same seed, same frames.

    HunyuanVideo is guidance-distilled: `guidance_scale` is its embedded guidance and the
    negative prompt has no effect (it would only apply under true CFG, at twice the cost).
    """
    check_clip_request(model, num_frames=num_frames, width=width, height=height)
    if steps < 1:
        raise ValueError(f"steps={steps} for {model.name}: at least one denoising step is needed")
    kwargs: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "num_frames": num_frames,
        "width": width,
        "height": height,
        "num_inference_steps": steps,
        "guidance_scale": guidance_scale,
        # A CPU generator draws the same noise whatever device the pipeline runs on.
        "generator": torch.Generator(device="cpu").manual_seed(seed),
        "output_type": "np",
    }
    if model.family == "ltx":
        # LTX scales its temporal RoPE by the frame rate; its default (25) is not the registry's.
        kwargs["frame_rate"] = model.native_fps
    frames = np.asarray(pipe(**kwargs).frames[0], dtype=np.float32)
    expected = (num_frames, height, width, 3)
    if frames.shape != expected:
        raise RuntimeError(
            f"{model.pipeline_class} returned frames of shape {frames.shape}, expected {expected}"
        )
    return (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)


@dataclass(frozen=True)
class ShotRequest:
    """One shot to render: its prompt, seed and exact (valid) frame count."""

    id: str
    prompt: str
    negative_prompt: str
    seed: int
    num_frames: int
    duration_s: float


@dataclass(frozen=True)
class RenderedShot:
    """A finished shot: its clip, a poster frame and how long rendering took (0 if reused)."""

    id: str
    clip: Path
    poster: Image.Image
    num_frames: int
    render_s: float
    reused: bool


class VideoGenerator(ConfigurableResource):
    """Renders a shot list with the character LoRA into H.264 clips, one folder per shot."""

    crf: int = 18
    preset: str = "medium"

    def render_shots(
        self,
        model_dir: Path,
        model: VideoModel,
        shots: list[ShotRequest],
        out_dir: Path,
        *,
        lora_file: Path | None,
        lora_strength: float,
        width: int,
        height: int,
        steps: int,
        guidance_scale: float | None = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        log: Callable[[str], None] = print,
        stop: StopCheck | None = None,
    ) -> list[RenderedShot]:
        """Render each shot to `out_dir/shots/<id>/clip.mp4`; shots finished earlier are kept."""
        for shot in shots:  # fail before loading anything if any shot is unrenderable
            check_clip_request(model, num_frames=shot.num_frames, width=width, height=height)
        guidance = model.guidance_scale if guidance_scale is None else guidance_scale
        pipe = None
        rendered: list[RenderedShot] = []
        for shot in shots:
            folder = Path(out_dir) / "shots" / shot.id
            done = folder / "shot.json"
            if done.is_file():
                record = json.loads(done.read_text())
                log(f"shot {shot.id}: already rendered, kept")
                rendered.append(
                    RenderedShot(
                        shot.id,
                        folder / "clip.mp4",
                        Image.open(folder / "poster.png").convert("RGB"),
                        shot.num_frames,
                        float(record.get("render_s", 0.0)),
                        reused=True,
                    )
                )
                continue
            if pipe is None:
                pipe = load_video_pipeline(model_dir, model, device=device, dtype=dtype)
                if lora_file is not None:
                    apply_lora(pipe, lora_file, lora_strength)
            start = time.perf_counter()
            frames = render_clip(
                pipe,
                model,
                prompt=shot.prompt,
                negative_prompt=shot.negative_prompt,
                num_frames=shot.num_frames,
                width=width,
                height=height,
                steps=steps,
                guidance_scale=guidance,
                seed=shot.seed,
            )
            render_s = time.perf_counter() - start
            folder.mkdir(parents=True, exist_ok=True)
            write_video(
                folder / "clip.mp4", frames, fps=model.native_fps, crf=self.crf, preset=self.preset
            )
            poster = Image.fromarray(frames[len(frames) // 2])
            write_atomic(folder / "poster.png", _png_bytes(poster))
            # Written last: its presence marks the shot finished for a retry.
            write_json(done, {**asdict(shot), "render_s": render_s, "model": model.name})
            log(f"shot {shot.id}: {shot.num_frames} frames {width}x{height} in {render_s:.1f}s")
            rendered.append(
                RenderedShot(shot.id, folder / "clip.mp4", poster, shot.num_frames, render_s, False)
            )
            stop_if_asked(stop, f"shot {shot.id}")
        return rendered


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
