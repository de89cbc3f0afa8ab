"""The final cut: clips decoded, upscaled once per source frame, retimed, fitted and encoded.

Everything streams in bounded batches: peak memory depends on the batch size and the output
resolution, never on the clips' length.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from resources.domain.timing import frames_for
from resources.media.reframe import ShotFraming, reframe
from resources.media.video_io import (
    VideoWriter,
    probe_video,
    read_video,
    retime_indices,
)
from resources.runtime.interruption import StopCheck, stop_if_asked
from resources.runtime.progress import StepProgress
from resources.upscale.super_resolution import fit_to_resolution, upscale_frames

if TYPE_CHECKING:
    from spandrel import ImageModelDescriptor


@dataclass(frozen=True)
class CutClip:
    id: str
    path: Path | None
    duration_s: float
    # A card instead of a clip: its frame at a (width, height); not upscaled, not sampled.
    card: Callable[[int, int], np.ndarray] | None = None


@dataclass(frozen=True)
class OtherFormat:
    """Another format of the same cut: its file, its size, each shot's crop windows, and what
    to draw on its frames (its own subtitle layout)."""

    aspect: str
    out_file: Path
    width: int
    height: int
    framings: dict[str, ShotFraming]
    overlay: Callable[[int, np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class CutStats:
    frames: int
    per_clip_frames: dict[str, int]
    samples: list[np.ndarray]  # one finished frame from the middle of each clip
    upscaled_frames: int = 0  # source frames run through the upscaler (each once)
    other_samples: dict[str, list[np.ndarray]] = field(default_factory=dict)  # per format


def retimed_batches(
    clip: Path, n_target: int, target_fps: float, batch_size: int
) -> Iterator[np.ndarray]:
    """Decode `clip` and yield exactly `n_target` frames at `target_fps`, in bounded batches."""
    out: list[np.ndarray] = []
    for frames, repeats, _ in unique_source_batches(clip, n_target, target_fps, batch_size):
        for frame, count in zip(frames, repeats, strict=True):
            out.extend([frame] * count)
            while len(out) >= batch_size:
                yield np.stack(out[:batch_size])
                out = out[batch_size:]
    if out:
        yield np.stack(out)


def unique_source_batches(
    clip: Path, n_target: int, target_fps: float, batch_size: int
) -> Iterator[tuple[np.ndarray, list[int], list[int]]]:
    """Decode `clip` in bounded batches of the source frames the retimed clip uses.

    Yields (frames, repeats, indices): each source frame needed at `target_fps` once, with how
    many consecutive output frames show it and its index in the clip. Work done per yielded
    frame (upscaling) is then done once per source frame, not once per output frame (16 -> 24
    fps repeats every other frame).
    """
    info = probe_video(clip)
    wanted = retime_indices(info.frame_count, float(info.fps), target_fps, n_target)
    repeats = Counter(wanted)
    last = wanted[-1] if wanted else -1
    source_index = 0
    for batch in read_video(clip, batch_size=batch_size):
        keep = [i for i in range(len(batch)) if repeats.get(source_index + i)]
        if keep:
            yield (
                batch[keep],
                [repeats[source_index + i] for i in keep],
                [source_index + i for i in keep],
            )
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


def _shaped(
    big: np.ndarray,
    source: np.ndarray,
    indices: list[int],
    framing: ShotFraming | None,
    width: int,
    height: int,
    fit: str,
) -> np.ndarray:
    """Upscaled frames made `width` x `height`: fitted whole, or cut to the shot's windows."""
    if framing is None:
        return fit_to_resolution(big, width, height, mode=fit)
    scale = big.shape[2] / source.shape[2]
    return fit_to_resolution(reframe(big, indices, framing, scale), width, height, mode="crop")


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
    framings: dict[str, ShotFraming] | None = None,
    extra: list[OtherFormat] = (),
) -> CutStats:
    """Join `clips` in order into one H.264 file of exactly round(duration * fps) frames each.

    Frames stream decode -> upscale -> fit -> encode in batches of `batch_size` source frames,
    so memory does not grow with the clips' length; each source frame is upscaled once however
    many output frames repeat it. `overlay(index, frame)`, when given, returns what output
    frame `index` (counted over the whole cut) shows instead of `frame` (burned-in subtitles).
    `framings` cut each shot to its crop windows instead of fitting it whole; each of `extra`
    is another format written from the same upscaled frames (one upscale for every format).
    """
    per_clip: dict[str, int] = {}
    samples: list[np.ndarray] = []
    others: dict[str, list[np.ndarray]] = {e.aspect: [] for e in extra}
    upscaled = 0
    total = sum(frames_for(clip.duration_s, fps) for clip in clips)
    encoding = dict(fps=Fraction(fps), crf=crf, preset=preset, codec=encoder)
    with ExitStack() as files:
        writer = files.enter_context(VideoWriter(out_file, width=width, height=height, **encoding))
        writers = [
            files.enter_context(VideoWriter(e.out_file, width=e.width, height=e.height, **encoding))
            for e in extra
        ]
        for number, clip in enumerate(clips, start=1):
            n_target = frames_for(clip.duration_s, fps)
            if clip.card is not None:
                at = sum(per_clip.values())
                _write(writer, clip.card(width, height), n_target, at, overlay)
                for e, out in zip(extra, writers, strict=True):
                    _write(out, clip.card(e.width, e.height), n_target, at, e.overlay)
                per_clip[clip.id] = n_target
                continue
            middle = n_target // 2
            written = 0
            progress = StepProgress(
                log, f"cut {clip.id}", total, unit="frames", done=sum(per_clip.values()),
                every=max(total, 1), item=(number, len(clips)),
            )  # fmt: skip
            batches = unique_source_batches(clip.path, n_target, fps, batch_size)
            for frames, repeats, indices in batches:
                big = upscale_frames(
                    upscaler, frames, batch_size=batch_size, tile=tile, overlap=overlap
                )
                framing = None if framings is None else framings[clip.id]
                finished = _shaped(big, frames, indices, framing, width, height, fit)
                extras = [
                    _shaped(big, frames, indices, e.framings[clip.id], e.width, e.height, "crop")
                    for e in extra
                ]
                del big
                upscaled += len(finished)
                for k, count in enumerate(repeats):
                    at = sum(per_clip.values()) + written
                    if written <= middle < written + count:
                        samples.append(finished[k].copy())
                        for e, shaped in zip(extra, extras, strict=True):
                            others[e.aspect].append(shaped[k].copy())
                    _write(writer, finished[k], count, at, overlay)
                    for e, out, shaped in zip(extra, writers, extras, strict=True):
                        _write(out, shaped[k], count, at, e.overlay)
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
        other_samples=others,
    )
