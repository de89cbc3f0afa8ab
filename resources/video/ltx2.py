"""LTX-2 rendering: picture and sound from one generation, in one or two stages.

The family's production recipe (Lightricks' LTX-2 model card and diffusers' LTX-2 docs):
stage 1 denoises at half the width and height on the distilled 8-sigma schedule without CFG;
`LTX2LatentUpsamplePipeline` doubles the latent's width and height; stage 2 re-noises it to the
first of the 3 refinement sigmas and denoises at full size. The audio stream is generated with
the picture in both stages and decoded by the audio VAE and the vocoder. A tier with fewer steps
(the tiny profile) takes evenly spaced sigmas of the same schedules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import LTX2LatentUpsamplePipeline
from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel
from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES, STAGE_2_DISTILLED_SIGMA_VALUES

from resources.domain.registry import VideoModel
from resources.domain.render import ShotRequest

LATENT_UPSAMPLER = "latent_upsampler"  # its folder inside the model folder (as Lightricks ship it)


@dataclass(frozen=True)
class AudioVisualClip:
    """A rendered clip with its sound: frames (F, H, W, 3) uint8, audio (samples, channels)."""

    frames: np.ndarray
    audio: np.ndarray
    sample_rate: int


def schedule(sigmas: list[float], steps: int) -> list[float]:
    """`steps` sigmas of a published schedule, evenly spaced, the first always kept."""
    if steps >= len(sigmas):
        return list(sigmas)
    picks = np.linspace(0, len(sigmas) - 1, steps).round().astype(int)
    return [sigmas[i] for i in picks]


def load_upsampler(model_dir: Path, pipe: Any, device: str, dtype: torch.dtype) -> Any:
    """The latent upsampler of `model_dir`, sharing the pipeline's video VAE."""
    folder = Path(model_dir) / LATENT_UPSAMPLER
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder} missing: the two-stage recipe needs the model's latent upsampler"
        )
    upsampler = LTX2LatentUpsamplerModel.from_pretrained(folder, torch_dtype=dtype)
    stage = LTX2LatentUpsamplePipeline(vae=pipe.vae, latent_upsampler=upsampler)
    stage.set_progress_bar_config(disable=True)
    stage.latent_upsampler.to(device)
    return stage


def _call(pipe: Any, model: VideoModel, shot: ShotRequest, guidance: float, **kw) -> Any:
    return pipe(
        prompt=shot.prompt,
        negative_prompt=shot.negative_prompt,
        num_frames=shot.num_frames,
        frame_rate=float(model.native_fps),
        guidance_scale=guidance,
        # The distilled recipe: no STG, no modality guidance, no rescale.
        stg_scale=0.0,
        modality_scale=1.0,
        guidance_rescale=0.0,
        audio_guidance_scale=guidance,
        audio_stg_scale=0.0,
        audio_modality_scale=1.0,
        audio_guidance_rescale=0.0,
        spatio_temporal_guidance_blocks=None,
        max_sequence_length=pipe.tokenizer.model_max_length,
        generator=torch.Generator(device="cpu").manual_seed(shot.seed),
        **kw,
    )


def render_audio_visual(
    pipe: Any,
    upsampler: Any | None,
    model: VideoModel,
    shot: ShotRequest,
    *,
    width: int,
    height: int,
    steps: int,
    guidance_scale: float,
    refine_steps: int = 0,
    on_step: Callable[[int], None] | None = None,
) -> AudioVisualClip:
    """One shot's frames and sound; the same seed gives the same bytes. `refine_steps` > 0:
    the two-stage recipe (`upsampler` from `load_upsampler`), else one stage at full size."""
    w, h, two_stage, g = width, height, refine_steps > 0, guidance_scale
    if two_stage and (w % 64 or h % 64):
        raise ValueError(
            f"width={w}, height={h}: a two-stage {model.name} render needs multiples of 64 "
            f"(half size, multiples of 32, is upsampled x2)"
        )
    callback = _step_callback(on_step)
    first = schedule(DISTILLED_SIGMA_VALUES, steps)
    if not two_stage:
        out = _call(pipe, model, shot, g, width=w, height=h, sigmas=first,
                    output_type="np", **callback)  # fmt: skip
        return _clip(pipe, out, shot, w, h)
    low = _call(pipe, model, shot, g, width=w // 2, height=h // 2, sigmas=first,
                output_type="latent", **callback)  # fmt: skip
    up = upsampler(latents=low.frames, width=w // 2, height=h // 2, num_frames=shot.num_frames,
                   output_type="latent").frames  # fmt: skip
    second = schedule(STAGE_2_DISTILLED_SIGMA_VALUES, refine_steps)
    out = _call(
        pipe, model, shot, g, width=w, height=h, sigmas=second, noise_scale=second[0],
        latents=up, audio_latents=low.audio, output_type="np",
    )  # fmt: skip
    return _clip(pipe, out, shot, w, h)


def _step_callback(on_step: Callable[[int], None] | None) -> dict[str, Any]:
    if on_step is None:
        return {}

    def step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict) -> dict:
        on_step(step + 1)
        return callback_kwargs

    return {"callback_on_step_end": step_end}


def _clip(pipe: Any, out: Any, shot: ShotRequest, width: int, height: int) -> AudioVisualClip:
    frames = np.asarray(out.frames[0], dtype=np.float32)
    if frames.shape != (shot.num_frames, height, width, 3):
        raise RuntimeError(
            f"LTX-2 returned frames of shape {frames.shape}, expected "
            f"{(shot.num_frames, height, width, 3)}"
        )
    audio = out.audio[0].detach().float().cpu().numpy().T  # (samples, channels)
    return AudioVisualClip(
        (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8),
        np.clip(audio, -1.0, 1.0).astype(np.float32),
        int(pipe.vocoder.config.output_sampling_rate),
    )
