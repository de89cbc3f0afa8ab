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
from diffusers import LTX2DFRPipeline, LTX2LatentUpsamplePipeline
from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel, LTX2VideoCondition
from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES, STAGE_2_DISTILLED_SIGMA_VALUES
from PIL import Image

from resources.domain.registry import VideoModel
from resources.domain.render import ShotRequest
from resources.domain.sound_files import narration_track
from resources.runtime.cpu_convolution import onednn_conv3d_on_cpu

LATENT_UPSAMPLER = "latent_upsampler"  # its folder inside the model folder (as Lightricks ship it)
N_FFT = 1024  # the log-mel analysis window of the narration a talking shot follows


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
    onednn_conv3d_on_cpu(stage.latent_upsampler, device)
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
    line: tuple[np.ndarray, int] | None = None,
    image: Image.Image | None = None,
) -> AudioVisualClip:
    """One shot's frames and sound; the same seed gives the same bytes. `refine_steps` > 0:
    the two-stage recipe (`upsampler` from `load_upsampler`), else one stage at full size.
    `line` (samples, rate): a talking shot, whose picture follows this narration (see `_talking`).
    `image`: the reference still LTX2ConditionPipeline starts from (latent frame 0, full
    strength), in both stages.
    """
    w, h, two_stage, g = width, height, refine_steps > 0, guidance_scale
    if model.takes_image != (image is not None):
        raise ValueError(
            f"{model.name} {'needs' if model.takes_image else 'takes no'} reference still"
        )
    if image is not None and line is not None:
        raise ValueError(f"shot {shot.id}: a talking shot cannot start from the reference still")
    still = {"conditions": [LTX2VideoCondition(image, index=0)]} if image is not None else {}
    if two_stage and (w % 64 or h % 64):
        raise ValueError(
            f"width={w}, height={h}: a two-stage {model.name} render needs multiples of 64 "
            f"(half size, multiples of 32, is upsampled x2)"
        )
    exact_sigmas(pipe)
    callback = _step_callback(on_step)
    first = schedule(DISTILLED_SIGMA_VALUES, steps)
    if line is not None:
        return _talking(pipe, upsampler, model, shot, line, first, refine_steps, callback, w, h)
    if not two_stage:
        out = _call(pipe, model, shot, g, width=w, height=h, sigmas=first,
                    output_type="np", **callback, **still)  # fmt: skip
        return _clip(pipe, out, shot, w, h)
    low = _call(pipe, model, shot, g, width=w // 2, height=h // 2, sigmas=first,
                output_type="latent", **callback, **still)  # fmt: skip
    up = upsampler(latents=low.frames, width=w // 2, height=h // 2, num_frames=shot.num_frames,
                   output_type="latent").frames  # fmt: skip
    second = schedule(STAGE_2_DISTILLED_SIGMA_VALUES, refine_steps)
    out = _call(
        pipe, model, shot, g, width=w, height=h, sigmas=second, noise_scale=second[0],
        latents=up, audio_latents=low.audio, output_type="np", **still,
    )  # fmt: skip
    return _clip(pipe, out, shot, w, h)


def exact_sigmas(pipe: Any) -> None:
    """Make the scheduler step through the distilled sigmas as given: no resolution-dependent
    shift and no terminal stretch (which the published config applies to its own schedule)."""
    config = pipe.scheduler.config
    if (
        config.get("use_dynamic_shifting")
        or config.get("shift_terminal")
        or config.get("shift") != 1.0
    ):
        pipe.scheduler = type(pipe.scheduler).from_config(
            config, use_dynamic_shifting=False, shift_terminal=None, shift=1.0
        )


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


def mel_filterbank(rate: int, n_fft: int, bins: int) -> np.ndarray:
    """Triangular filters evenly spaced on the HTK mel scale from 0 Hz to Nyquist: (bins, freqs)."""

    def mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = hz(np.linspace(mel(0.0), mel(rate / 2), bins + 2))
    rising = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    falling = (edges[2:, None] - freqs[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def narration_latents(pipe: Any, track: np.ndarray) -> torch.Tensor:
    """The audio VAE's latents (B, C, L, M) of `track` (at the VAE's rate): a log-mel spectrogram
    at the VAE's hop and bins, the same in both stereo channels, encoded at the mode."""
    vae = pipe.audio_vae
    config = vae.config
    wave = torch.from_numpy(track)[None]
    spec = torch.stft(
        wave, n_fft=N_FFT, hop_length=config.mel_hop_length, window=torch.hann_window(N_FFT),
        return_complex=True,
    ).abs()  # fmt: skip
    bank = torch.from_numpy(mel_filterbank(config.sample_rate, N_FFT, config.mel_bins))
    log_mel = torch.log(torch.clamp(bank @ spec, min=1e-5))  # (1, bins, frames)
    channels = config.in_channels
    x = log_mel.transpose(1, 2)[:, None].repeat(1, channels, 1, 1)
    with torch.no_grad():
        return vae.encode(x.to(vae.device, vae.dtype)).latent_dist.mode()


def _talking(pipe, upsampler, model, shot, line, first, refine_steps, callback, w, h):
    """A talking shot: the narration's latents held at sigma 0 (LTX2DFRPipeline's
    `freeze_audio`) in both stages while the picture is denoised, so it is generated to them."""
    dfr = getattr(pipe, "talking_pipeline", None)
    if dfr is None:
        dfr = LTX2DFRPipeline.from_pipe(pipe)  # shares the components, the scheduler too
        dfr.set_progress_bar_config(disable=True)
        pipe.talking_pipeline = dfr
    samples, rate = line
    to_rate = pipe.audio_vae.config.sample_rate
    track = narration_track(samples, rate, shot.num_frames / model.native_fps, to_rate)
    audio = narration_latents(pipe, track)
    common = dict(
        prompt=shot.prompt,
        num_frames=shot.num_frames,
        frame_rate=float(model.native_fps),
        audio_latents=audio,
        freeze_audio=True,
        generate_slots=False,
        max_sequence_length=pipe.tokenizer.model_max_length,
        generator=torch.Generator(device="cpu").manual_seed(shot.seed),
    )
    if not refine_steps:
        out = dfr(width=w, height=h, sigmas=first, output_type="np", **common, **callback)
        return _clip(pipe, out, shot, w, h)
    low = dfr(width=w // 2, height=h // 2, sigmas=first, output_type="latent", **common, **callback)
    up = upsampler(latents=low.frames, width=w // 2, height=h // 2, num_frames=shot.num_frames,
                   output_type="latent").frames  # fmt: skip
    second = schedule(STAGE_2_DISTILLED_SIGMA_VALUES, refine_steps)
    out = dfr(width=w, height=h, sigmas=second, noise_scale=second[0], latents=up,
              output_type="np", **common)  # fmt: skip
    return _clip(pipe, out, shot, w, h)
