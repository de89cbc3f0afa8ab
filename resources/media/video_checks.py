"""What a producer checks by eye, measured: format, and no black or frozen stretches (luma).

`inspect_video` streams a file once in bounded batches and reports its format (size, fps, frame
count, codec, pixel format, faststart) and luma statistics: per-frame mean luma (BT.709 weights
on the decoded RGB) for black stretches, and the mean absolute luma difference from the first
frame of a stretch for frozen stretches. `format_problems` and `picture_problems` turn a report
into one line per problem; assets put both into their asset checks so the figures show in the
Dagster UI.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from resources.media.video_io import probe_video, read_video

# Mean luma (0-255) below which a frame counts as black: video black is 16 in studio range and
# a dark but lit scene stays well above 20.
BLACK_LUMA = 12.0
# Mean absolute luma difference (0-255) from the first frame of a stretch below which a frame
# still shows the same picture. Measured against the stretch's first frame, not the previous
# one, so slow but real motion adds up and ends the stretch, while H.264 refining a held picture
# over its first frames (differences of about 1 level) does not.
FROZEN_DELTA = 2.0
# Longest stretch tolerated, in seconds. Retiming 16 -> 24 fps repeats every other frame (a
# 2-frame stretch, 0.08 s), far below it.
MAX_BLACK_S = 0.5
MAX_FROZEN_S = 1.0
# Luma standard deviation (0-255) below which a frame is one flat colour: what a NaN LoRA or a
# dead decoder renders (black or mid grey), while any real picture, even a dark one, has texture.
FLAT_STD = 1.0
MAX_FLAT_S = 0.25
_BT709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
_SUBSAMPLE = 4  # every 4th pixel each way: luma statistics do not need every pixel


@dataclass(frozen=True)
class VideoReport:
    """Format and luma figures of one video file."""

    width: int
    height: int
    fps: float
    frame_count: int
    codec: str
    pix_fmt: str
    faststart: bool
    luma_mean: float
    luma_min: float  # darkest frame's mean luma
    motion_mean: float  # mean absolute luma change between consecutive frames
    longest_black_s: float
    longest_frozen_s: float
    longest_flat_s: float = 0.0  # frames of one flat colour in a row
    all_flat: bool = False  # every frame is one flat colour

    def metadata(self) -> dict[str, Any]:
        """The figures as plain values for Dagster metadata (floats rounded for reading)."""
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def inspect_video(path: Path, *, batch_size: int = 16) -> VideoReport:
    """Probe `path` and compute its luma statistics in one streaming pass."""
    path = Path(path)
    info = probe_video(path)
    fps = float(info.fps)
    means: list[float] = []
    flat: list[bool] = []
    deltas: list[float] = []  # consecutive-frame change: how much the picture moves
    anchor: np.ndarray | None = None  # first frame of the current still stretch
    previous: np.ndarray | None = None
    still = longest_still = 0  # frames after the anchor that still match it
    for batch in read_video(path, batch_size=batch_size):
        small = batch[:, ::_SUBSAMPLE, ::_SUBSAMPLE].astype(np.float32)
        for luma in small @ _BT709:  # (h, w) per frame
            means.append(float(luma.mean()))
            flat.append(float(luma.std()) < FLAT_STD)
            if previous is not None:
                deltas.append(float(np.abs(luma - previous).mean()))
            if anchor is not None and float(np.abs(luma - anchor).mean()) < FROZEN_DELTA:
                still += 1
                longest_still = max(longest_still, still)
            else:
                anchor, still = luma, 0
            previous = luma
    black = _longest_run([m < BLACK_LUMA for m in means])
    frozen = longest_still + 1 if longest_still else 0  # the anchor plus its repeats
    return VideoReport(
        width=info.width,
        height=info.height,
        fps=fps,
        frame_count=info.frame_count,
        codec=info.codec,
        pix_fmt=info.pix_fmt,
        faststart=info.faststart,
        luma_mean=float(np.mean(means)) if means else 0.0,
        luma_min=float(np.min(means)) if means else 0.0,
        motion_mean=float(np.mean(deltas)) if deltas else 0.0,
        longest_black_s=black / fps,
        longest_frozen_s=frozen / fps,
        # Black frames are flat too, and have their own limit: count the other flat ones.
        longest_flat_s=_longest_run(
            [f and m >= BLACK_LUMA for f, m in zip(flat, means, strict=True)]
        )
        / fps,
        all_flat=bool(flat) and all(flat),
    )


def format_problems(
    report: VideoReport,
    *,
    width: int,
    height: int,
    fps: float | Fraction,
    frame_count: int,
    frame_tolerance: int = 0,
) -> list[str]:
    """One line per way `report`'s format misses the expectations (empty when it meets them)."""
    problems = []
    if (report.width, report.height) != (width, height):
        problems.append(f"resolution {report.width}x{report.height}, expected {width}x{height}")
    if abs(report.fps - float(fps)) > 1e-6:
        problems.append(f"fps {report.fps:g}, expected {float(fps):g}")
    if abs(report.frame_count - frame_count) > frame_tolerance:
        problems.append(f"{report.frame_count} frames, expected {frame_count}")
    if (report.codec, report.pix_fmt) != ("h264", "yuv420p"):
        problems.append(f"codec {report.codec} {report.pix_fmt}, expected h264 yuv420p")
    return problems


def picture_problems(
    report: VideoReport, *, max_black_s: float = MAX_BLACK_S, max_frozen_s: float = MAX_FROZEN_S
) -> list[str]:
    """One line per black or frozen stretch longer than allowed (empty when there is none)."""
    problems = []
    if report.longest_black_s > max_black_s:
        problems.append(f"black for {report.longest_black_s:.2f} s (at most {max_black_s} s)")
    if report.longest_frozen_s > max_frozen_s:
        problems.append(f"frozen for {report.longest_frozen_s:.2f} s (at most {max_frozen_s} s)")
    if report.all_flat:
        problems.append("every frame is one flat colour (no picture at all)")
    elif report.longest_flat_s > MAX_FLAT_S:
        problems.append(f"flat colour for {report.longest_flat_s:.2f} s (at most {MAX_FLAT_S} s)")
    return problems


def _longest_run(flags: list[bool]) -> int:
    longest = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest
