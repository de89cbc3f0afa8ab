"""Reframing a shot for another aspect ratio: the crop window follows the character's face.

For a format whose ratio differs from the shot's, the window is the largest of the format's
ratio inside the source frame. Its position, per shot:

1. The face: OpenCV's frontal-face detector (resources/media/faces.py) on every
   `SAMPLE_EVERY`-th source frame; the centre of the largest face found.
2. Samples without a face take the nearest sample with one; a shot with no face at all is
   framed on the centre (recorded as `centre`, with the reason).
3. Smoothed over time: a moving average over `SMOOTH_S` seconds of samples, so the window
   glides instead of jumping with the detector's jitter.
4. Each source frame's centre is interpolated between its neighbouring samples, the face put at
   the window's middle across and `FACE_HEIGHT` from its top, and the window clamped inside the
   frame.

The recorded framing (per shot: mode, samples, faces found, window size, the smoothed centres)
goes into the deliverables manifest. Pure numpy and OpenCV: the same clip, the same windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resources.media.faces import DETECTOR, face_detector, largest_face
from resources.media.video_io import probe_video, read_video

SAMPLE_EVERY = 6  # source frames between face detections (4 a second at 24 fps)
SMOOTH_S = 1.0  # the moving average's span, seconds
FACE_HEIGHT = 0.38  # where the face's centre sits in a window shorter than the frame


@dataclass(frozen=True)
class ShotFraming:
    """Where one shot's crop window sits on each source frame, in source pixels."""

    shot: str
    source: tuple[int, int]  # width, height of the source frames
    window: tuple[float, float]  # width, height of the window
    lefts: np.ndarray  # per source frame
    tops: np.ndarray  # per source frame
    mode: str  # "face" or "centre"
    samples: int
    faces: int
    centres: list[tuple[int, int, int]]  # (source frame, x, y) of the smoothed centre

    def window_at(self, index: int, scale: float = 1.0) -> tuple[int, int, int, int]:
        """The window on source frame `index` in pixels of a frame `scale` times larger:
        (left, top, width, height), inside the frame."""
        index = min(max(index, 0), len(self.lefts) - 1)
        width = min(round(self.window[0] * scale), round(self.source[0] * scale))
        height = min(round(self.window[1] * scale), round(self.source[1] * scale))
        left = min(round(self.lefts[index] * scale), round(self.source[0] * scale) - width)
        top = min(round(self.tops[index] * scale), round(self.source[1] * scale) - height)
        return max(0, left), max(0, top), width, height

    def record(self) -> dict[str, Any]:
        return {
            "shot": self.shot,
            "mode": self.mode,
            "detector": DETECTOR["name"],
            "samples": self.samples,
            "faces": self.faces,
            "window": [round(v, 2) for v in self.window],
            "source": list(self.source),
            "centres": [list(c) for c in self.centres],
        }


def window_size(source: tuple[int, int], target: tuple[int, int]) -> tuple[float, float]:
    """The largest window of the target's ratio inside the source frame."""
    sw, sh = source
    ratio = target[0] / target[1]
    if sw / sh > ratio:
        return sh * ratio, float(sh)
    return float(sw), sw / ratio


def face_centres(clip: Path) -> tuple[list[int], list[tuple[float, float] | None], int]:
    """The face centre on every SAMPLE_EVERY-th frame of `clip` (None where none was found)."""
    detector = face_detector()
    indices: list[int] = []
    centres: list[tuple[float, float] | None] = []
    index = 0
    for batch in read_video(clip, batch_size=SAMPLE_EVERY * 4):
        for frame in batch:
            if index % SAMPLE_EVERY == 0:
                box = largest_face(detector, frame)
                indices.append(index)
                centres.append(None if box is None else (box[0] + box[2] / 2, box[1] + box[3] / 2))
            index += 1
    return indices, centres, index


def _smooth(values: np.ndarray, span: int) -> np.ndarray:
    """Moving average over `span` samples, the ends averaged over what exists."""
    if span <= 1 or len(values) < 2:
        return values
    half = span // 2
    padded = np.concatenate([np.full(half, values[0]), values, np.full(half, values[-1])])
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.convolve(padded, kernel, mode="valid")


def _filled(centres: list[tuple[float, float] | None]) -> np.ndarray:
    """Each missing sample takes the nearest found one (the earlier on a tie)."""
    found = [i for i, c in enumerate(centres) if c is not None]
    return np.array(
        [centres[min(found, key=lambda j: (abs(j - i), j))] for i in range(len(centres))]
    )


def frame_shot(shot: str, clip: Path, target: tuple[int, int]) -> ShotFraming:
    """The crop windows of `clip` for a `target` (width, height) format, following the face."""
    info = probe_video(clip)
    source = (info.width, info.height)
    window = window_size(source, target)
    indices, centres, count = face_centres(clip)
    faces = sum(c is not None for c in centres)
    if faces == 0:
        xs = np.full(len(indices), source[0] / 2)
        ys = np.full(len(indices), source[1] / 2 + window[1] * (FACE_HEIGHT - 0.5))
        mode = "centre"
    else:
        points = _filled(centres)
        span = max(1, round(SMOOTH_S * float(info.fps) / SAMPLE_EVERY))
        xs, ys = _smooth(points[:, 0], span), _smooth(points[:, 1], span)
        mode = "face"
    frames = np.arange(count)
    cx = np.interp(frames, indices, xs)
    cy = np.interp(frames, indices, ys)
    lefts = np.clip(cx - window[0] / 2, 0, source[0] - window[0])
    tops = np.clip(cy - window[1] * FACE_HEIGHT, 0, source[1] - window[1])
    return ShotFraming(
        shot,
        source,
        window,
        lefts,
        tops,
        mode,
        len(indices),
        faces,
        [
            (int(i), round(float(x)), round(float(y)))
            for i, x, y in zip(indices, xs, ys, strict=True)
        ],
    )


def reframe(
    frames: np.ndarray, indices: list[int], framing: ShotFraming, scale: float
) -> np.ndarray:
    """Each of `frames` (source frames `indices`, upscaled `scale` times) cut to its window."""
    crops = []
    for frame, index in zip(frames, indices, strict=True):
        left, top, width, height = framing.window_at(index, scale)
        crops.append(frame[top : top + height, left : left + width])
    return np.stack(crops)
