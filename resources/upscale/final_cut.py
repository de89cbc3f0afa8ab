"""The final cut: clips decoded, upscaled once per source frame, retimed, fitted and encoded.

Everything streams in bounded batches: peak memory depends on the batch size and the output
resolution, never on the clips' length.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from spandrel import ImageModelDescriptor

from resources.domain.timing import frames_for
from resources.media.video_io import (
    VideoWriter,
    probe_video,
    read_video,
    retime_indices,
)
from resources.runtime.interruption import StopCheck, stop_if_asked
from resources.runtime.progress import StepProgress
from resources.upscale.super_resolution import fit_to_resolution, upscale_frames


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
    upscaled_frames: int = 0  # source frames run through the upscaler (each once)


def retimed_batches(
    clip: Path, n_target: int, target_fps: float, batch_size: int
) -> Iterator[np.ndarray]:
    """Decode `clip` and yield exactly `n_target` frames at `target_fps`, in bounded batches."""
    out: list[np.ndarray] = []
    for frames, repeats in unique_source_batches(clip, n_target, target_fps, batch_size):
        for frame, count in zip(frames, repeats, strict=True):
            out.extend([frame] * count)
            while len(out) >= batch_size:
                yield np.stack(out[:batch_size])
                out = out[batch_size:]
    if out:
        yield np.stack(out)


def unique_source_batches(
    clip: Path, n_target: int, target_fps: float, batch_size: int
) -> Iterator[tuple[np.ndarray, list[int]]]:
    """Decode `clip` in bounded batches of the source frames the retimed clip uses.

    Yields (frames, repeats): each source frame needed at `target_fps` once, with how many
    consecutive output frames show it. Work done per yielded frame (upscaling) is then done once
    per source frame, not once per output frame (16 -> 24 fps repeats every other frame).
    """
    info = probe_video(clip)
    wanted = retime_indices(info.frame_count, float(info.fps), target_fps, n_target)
    repeats = Counter(wanted)
    last = wanted[-1] if wanted else -1
    source_index = 0
    for batch in read_video(clip, batch_size=batch_size):
        keep = [i for i in range(len(batch)) if repeats.get(source_index + i)]
        if keep:
            yield batch[keep], [repeats[source_index + i] for i in keep]
        source_index += len(batch)
        if source_index > last:
            return
    if source_index <= last:
        raise ValueError(f"{clip}: decoded {source_index} frames, needed index {last}")


def _write(writer: VideoWriter, frame: np.ndarray, count: int, index: int, overlay) -> None:
    """`frame` as output frames index .. index + count - 1, each through `overlay` if any."""
    if overlay is None:
        writer.write(np.broadcast_to(frame, (count, *frame.shape)))
        return
    for k in range(count):
        writer.write(overlay(index + k, frame)[None])


def cut(
    upscaler: ImageModelDescriptor,
    clips: list[CutClip],
    out_file: Path,
    *,
    width: int,
    height: int,
    fps: int,
    fit: str = "fit",
    crf: int = 18,
    preset: str = "medium",
    batch_size: int = 8,
    tile: int = 0,
    overlap: int = 16,
    encoder: str = "libx264",
    log: Callable[[str], None] = lambda _: None,
    stop: StopCheck | None = None,
    overlay: Callable[[int, np.ndarray], np.ndarray] | None = None,
) -> CutStats:
    """Join `clips` in order into one H.264 file of exactly round(duration * fps) frames each.

    Frames stream decode -> upscale -> fit -> encode in batches of `batch_size` source frames,
    so memory does not grow with the clips' length; each source frame is upscaled once however
    many output frames repeat it. `overlay(index, frame)`, when given, returns what output
    frame `index` (counted over the whole cut) shows instead of `frame` (burned-in subtitles).
    """
    per_clip: dict[str, int] = {}
    samples: list[np.ndarray] = []
    upscaled = 0
    total = sum(frames_for(clip.duration_s, fps) for clip in clips)
    with VideoWriter(
        out_file,
        width=width,
        height=height,
        fps=Fraction(fps),
        crf=crf,
        preset=preset,
        codec=encoder,
    ) as writer:
        for number, clip in enumerate(clips, start=1):
            n_target = frames_for(clip.duration_s, fps)
            middle = n_target // 2
            written = 0
            progress = StepProgress(
                log, f"cut {clip.id}", total, unit="frames", done=sum(per_clip.values()),
                every=max(total, 1), item=(number, len(clips)),
            )  # fmt: skip
            for frames, repeats in unique_source_batches(clip.path, n_target, fps, batch_size):
                big = upscale_frames(
                    upscaler, frames, batch_size=batch_size, tile=tile, overlap=overlap
                )
                finished = fit_to_resolution(big, width, height, mode=fit)
                del big
                upscaled += len(finished)
                for frame, count in zip(finished, repeats, strict=True):
                    if written <= middle < written + count:
                        samples.append(frame.copy())
                    _write(writer, frame, count, sum(per_clip.values()) + written, overlay)
                    written += count
                progress(sum(per_clip.values()) + written)
            per_clip[clip.id] = written
            stop_if_asked(stop, f"final cut after shot {clip.id}")
            log(f"cut {clip.id}: {written} frames at {width}x{height}")
    return CutStats(
        frames=sum(per_clip.values()),
        per_clip_frames=per_clip,
        samples=samples,
        upscaled_frames=upscaled,
    )
