"""Generated music: a prompt to a stereo bed at 48 kHz through diffusers' AceStepPipeline.

The tiny and production profiles load the same pipeline from a folder (the model store's); only
the weights differ. Instrumental (no lyrics), the turbo checkpoint's few steps, a seeded generator
on the CPU: the same prompt, length and seed give the same samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from resources.domain.registry import MusicModel


def compose(
    entry: MusicModel, folder: Path, prompt: str, seconds: float, seed: int, device: str = "cpu"
) -> tuple[np.ndarray, int]:
    """`seconds` of music for `prompt`: float32 samples (n, 2) and their rate."""
    from diffusers import AceStepPipeline

    pipe = AceStepPipeline.from_pretrained(folder).to(device)
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator("cpu").manual_seed(int(seed))
    with torch.no_grad():
        audio = pipe(
            prompt=prompt,
            lyrics="",  # instrumental: a bed under the narration
            audio_duration=float(seconds),
            num_inference_steps=entry.steps,
            generator=generator,
        ).audios[0]
    samples = audio.float().cpu().numpy().T  # (channels, n) -> (n, channels)
    return np.ascontiguousarray(samples, dtype=np.float32), int(pipe.vae.config.sampling_rate)
