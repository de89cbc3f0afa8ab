"""The final cut: clips decoded, retimed, upscaled, fitted and encoded in bounded batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from dagster import ConfigurableResource

from resources.interruption import StopCheck, stop_if_asked
from resources.upscaler import fit_to_resolution, load_upscaler, upscale_frames
from resources.video_io import VideoWriter, probe_video, read_video, retime_indices


@dataclass(frozen=True)
class CutClip:
    id: str
    path: Path
    duration_s: float


@dataclass(frozen=True)
class CutStats:
    frames: int
    per_clip_frames: dict[str, int]
    samples: list[np.ndarray]  # one finished frame from the middle of each clip


def retimed_batches(
    clip: Path, n_target: int, target_fps: float, batch_size: int
) -> Iterator[np.ndarray]:
    """Decode `clip` and yield exactly `n_target` frames at `target_fps`, in bounded batches."""
    info = probe_video(clip)
    wanted = retime_indices(info.frame_count, float(info.fps), target_fps, n_target)
    out: list[np.ndarray] = []
    position = 0  # index of the next frame in `wanted`
    source_index = 0
    for batch in read_video(clip, batch_size=batch_size):
        for frame in batch:
            while position < len(wanted) and wanted[position] == source_index:
                out.append(frame)
                position += 1
                if len(out) == batch_size:
                    yield np.stack(out)
                    out = []
            source_index += 1
        if position == len(wanted):
            break
    if out:
        yield np.stack(out)
    if position != len(wanted):
        raise ValueError(f"{clip}: decoded {source_index} frames, needed index {wanted[position]}")


def cut(
    upscaler,
    clips: list[CutClip],
    out_file: Path,
    *,
    width: int,
    height: int,
    fps: int,
    fit: str = "fit",
    crf: int = 18,
    batch_size: int = 8,
    log: Callable[[str], None] = lambda _: None,
    stop: StopCheck | None = None,
) -> CutStats:
    """Join `clips` in order into one H.264 file of exactly round(duration * fps) frames each."""
    per_clip: dict[str, int] = {}
    samples: list[np.ndarray] = []
    with VideoWriter(out_file, width=width, height=height, fps=Fraction(fps), crf=crf) as writer:
        for clip in clips:
            n_target = max(1, round(clip.duration_s * fps))
            middle = n_target // 2
            written = 0
            for batch in retimed_batches(clip.path, n_target, fps, batch_size):
                finished = fit_to_resolution(
                    upscale_frames(upscaler, batch, batch_size=batch_size), width, height, mode=fit
                )
                if written <= middle < written + len(finished):
                    samples.append(finished[middle - written].copy())
                writer.write(finished)
                written += len(finished)
            per_clip[clip.id] = written
            stop_if_asked(stop, f"final cut after shot {clip.id}")
            log(f"cut {clip.id}: {written} frames at {width}x{height}")
    return CutStats(frames=sum(per_clip.values()), per_clip_frames=per_clip, samples=samples)


class Upscaler(ConfigurableResource):
    """Dagster resource that cuts clips into the final video with a spandrel-loaded upscaler."""

    batch_size: int = 4
    half: bool = True  # fp16 on CUDA where the model supports it; ignored on CPU

    def cut(
        self,
        weights: Path,
        clips: list[CutClip],
        out_file: Path,
        *,
        width: int,
        height: int,
        fps: int,
        fit: str = "fit",
        crf: int = 18,
        device: str = "cpu",
        expected_scale: int | None = None,
        log: Callable[[str], None] = lambda _: None,
        stop: StopCheck | None = None,
    ) -> CutStats:
        """Load `weights` and join `clips` into `out_file` at width x height and `fps`."""
        model = load_upscaler(weights, device=device, half=self.half, expected_scale=expected_scale)
        log(f"upscaler {Path(weights).name}: {model.architecture.name} {model.scale}x on {device}")
        return cut(
            model,
            clips,
            out_file,
            width=width,
            height=height,
            fps=fps,
            fit=fit,
            crf=crf,
            batch_size=self.batch_size,
            log=log,
            stop=stop,
        )
