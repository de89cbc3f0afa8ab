"""The deliverable's resource: Real-ESRGAN (through spandrel) and the H.264 master's settings.

The frame work is in `super_resolution` (load, tiled upscale, fit) and the cut itself in
`final_cut`; this resource holds the settings that change the master's bytes and runs the cut.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from resources.media.video_io import EncoderChoice, choose_h264_encoder
from resources.runtime.interruption import StopCheck
from resources.upscale.final_cut import CutClip, CutStats, cut
from resources.upscale.super_resolution import load_upscaler


class Upscaler(ConfigurableResource):
    """Dagster resource that cuts clips into the final video with a spandrel-loaded upscaler."""

    batch_size: int = 4  # source frames per decode -> upscale -> encode batch
    half: bool = True  # fp16 on CUDA where the model supports it; ignored on CPU
    # Tiles of `tile` input pixels with `overlap` pixels of context: a 4x RRDBNet's features at
    # the output size of a 720p frame alone take ~2 GB in fp16; tiles keep a batch in bounds.
    tile: int = 384
    overlap: int = 16
    preset: str = "medium"  # libx264 preset of the master
    # auto: NVENC (h264_nvenc) where a CUDA device opens it, else libx264 | libx264 | h264_nvenc
    encoder: str = "auto"

    def encoder_for(self, device: str) -> EncoderChoice:
        """The H.264 encoder this resource uses on `device`, and why."""
        return choose_h264_encoder(device, self.encoder)

    def cut(
        self,
        weights: Path,
        clips: list[CutClip],
        out_file: Path,
        *,
        device: str = "cpu",
        expected_scale: int | None = None,
        log: Callable[[str], None] = lambda _: None,
        stop: StopCheck | None = None,
        overlay: Callable[[int, Any], Any] | None = None,
        **picture: Any,
    ) -> CutStats:
        """Load `weights` and run `cut` with this resource's encoding settings.

        `picture` is `cut`'s width, height, fps, fit and crf, passed through unchanged;
        `overlay` draws on each output frame (burned-in subtitles).
        """
        model = load_upscaler(weights, device=device, half=self.half, expected_scale=expected_scale)
        log(f"upscaler {Path(weights).name}: {model.architecture.name} {model.scale}x on {device}")
        choice = self.encoder_for(device)
        log(f"encoder {choice.codec}: {choice.reason}")
        encoding = {**self.encoding(), "encoder": choice.codec}
        return cut(
            model, clips, out_file, **encoding, log=log, stop=stop, overlay=overlay, **picture
        )

    def encoding(self) -> dict[str, Any]:
        """The settings of this resource that `cut` takes (and that change the output bytes)."""
        return {
            "preset": self.preset,
            "batch_size": self.batch_size,
            "tile": self.tile,
            "overlap": self.overlap,
        }
