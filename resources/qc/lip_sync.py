"""Audio-visual sync of a talking shot: by how many frames the mouth's motion follows its line.

The method, step by step (docs/identity.md, "Lip sync"):

1. The face: OpenCV's frontal-face detector (the Viola-Jones cascade
   `haarcascade_frontalface_default.xml` that opencv-python ships in `cv2.data`), run on up to
   `SAMPLED_FRAMES` evenly spaced frames in grey; the largest face of each frame; the median box
   over the frames where one was found. A face in fewer than a third of them: not measured.
2. The mouth region: the lower third of that box, its middle half across.
3. Mouth motion at frame t: the mean absolute difference of the region's grey levels between
   frames t-1 and t+1 (a central difference, so it is centred on frame t).
4. The sound's change at frame t: the same central difference of the speech envelope, the RMS of
   the shot's sound as the master plays it (the line from the lead-in on) over each frame's
   1/fps window. A mouth moves when the sound changes (syllables open and close it).
5. The lag: for each L in [-SEARCH_FRAMES, SEARCH_FRAMES] the Pearson correlation of the sound's
   change at t with the mouth's motion at t + L, over the frames both cover; the L with the
   largest correlation. Positive: the picture moves L frames after the sound.
6. A largest correlation under MIN_CORRELATION (a still mouth, a silent line) is inconclusive:
   reported, never counted as in sync.

A shot is in sync when |lag| <= MAX_LAG_FRAMES. On the tiny profile's random weights no face is
drawn, so the measurement there proves the mechanics only (tests/test_lip_sync.py drives it with
a real photograph whose mouth moves a known number of frames after a known sound).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resources.domain.sound_files import narration_track, read_wav
from resources.media.faces import DETECTOR, Box, face_detector, grey, largest_face
from resources.media.video_io import probe_video, read_video

MAX_LAG_FRAMES = 2  # the check fails a talking shot beyond +-2 frames
SEARCH_FRAMES = 6  # lags considered, each way
MIN_CORRELATION = 0.3  # below: inconclusive
SAMPLED_FRAMES = 16  # frames the face detector looks at
ENVELOPE_RATE = 16000  # the rate the line is resampled to before its envelope is taken
METHOD = (
    "lag (frames) maximising the Pearson correlation between the speech envelope's change and "
    "the mouth region's motion; face by the OpenCV frontal-face cascade"
)


@dataclass(frozen=True)
class SyncMeasure:
    """One talking shot's measured sync."""

    verdict: str  # "in_sync", "out_of_sync", "inconclusive" or "not_measured"
    lag_frames: int | None
    correlation: float | None
    face: Box | None
    frames: int
    reason: str

    @property
    def failed(self) -> bool:
        return self.verdict == "out_of_sync"

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "max_lag_frames": MAX_LAG_FRAMES, "method": METHOD}


def find_face(frames: np.ndarray) -> Box | None:
    """The median of the largest face found in up to SAMPLED_FRAMES evenly spaced frames, or
    None when fewer than a third of them show one."""
    detector = face_detector()
    picks = np.unique(np.linspace(0, len(frames) - 1, min(SAMPLED_FRAMES, len(frames))).astype(int))
    boxes = [b for b in (largest_face(detector, frames[i]) for i in picks) if b is not None]
    if len(boxes) * 3 < len(picks):
        return None
    x, y, w, h = np.median(np.array(boxes), axis=0).round().astype(int)
    return int(x), int(y), int(w), int(h)


def mouth_region(face: Box) -> Box:
    """The lower third of the face box, its middle half across."""
    x, y, w, h = face
    return x + w // 4, y + (2 * h) // 3, max(1, w // 2), max(1, h // 3)


def _central_change(values: np.ndarray) -> np.ndarray:
    """|v[t+1] - v[t-1]| / 2 per t, the ends from one side."""
    padded = np.concatenate([values[:1], values, values[-1:]], axis=0)
    change = np.abs(padded[2:] - padded[:-2]) / 2.0
    return change.reshape(len(values), -1).mean(axis=1)


def mouth_motion(frames: np.ndarray, face: Box) -> np.ndarray:
    """The mouth region's motion per frame (mean absolute grey change, central difference)."""
    x, y, w, h = mouth_region(face)
    region = np.stack([grey(f)[y : y + h, x : x + w] for f in frames]).astype(np.float64)
    return _central_change(region)


def speech_change(track: np.ndarray, rate: int, fps: float, frames: int) -> np.ndarray:
    """The change of the track's RMS envelope per frame (central difference)."""
    envelope = np.zeros(frames)
    for t in range(frames):
        piece = track[int(round(t * rate / fps)) : int(round((t + 1) * rate / fps))]
        envelope[t] = float(np.sqrt(np.mean(np.square(piece)))) if len(piece) else 0.0
    return _central_change(envelope)


def best_lag(sound: np.ndarray, motion: np.ndarray) -> tuple[int, float]:
    """The lag L (motion at t + L against sound at t) with the largest Pearson correlation."""
    best = (0, -np.inf)
    for lag in range(-SEARCH_FRAMES, SEARCH_FRAMES + 1):
        a = sound[max(0, -lag) : len(sound) - max(0, lag)]
        b = motion[max(0, lag) : len(motion) - max(0, -lag)]
        if len(a) < 3 or a.std() == 0 or b.std() == 0:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best[1]:
            best = (lag, r)
    return best


def measure_sync(frames: np.ndarray, fps: float, track: np.ndarray, rate: int) -> SyncMeasure:
    """The sync of `frames` (F, H, W, 3 uint8) against `track`, the shot's sound at `rate`."""
    count = len(frames)
    face = find_face(frames)
    if face is None:
        reason = f"no face found by the {DETECTOR['name']} in a third of the sampled frames"
        return SyncMeasure("not_measured", None, None, None, count, reason)
    sound = speech_change(track, rate, fps, count)
    lag, r = best_lag(sound, mouth_motion(frames, face))
    if not np.isfinite(r) or r < MIN_CORRELATION:
        figure = f"{r:.2f}" if np.isfinite(r) else "none"
        reason = f"largest correlation {figure} < {MIN_CORRELATION}: mouth motion does not follow"
        return SyncMeasure("inconclusive", None, None if not np.isfinite(r) else r, face, count,
                           reason)  # fmt: skip
    verdict = "in_sync" if abs(lag) <= MAX_LAG_FRAMES else "out_of_sync"
    reason = f"lag {lag:+d} frames (correlation {r:.2f}), limit +-{MAX_LAG_FRAMES}"
    return SyncMeasure(verdict, lag, r, face, count, reason)


def measure_clip(clip: Path, line: Path) -> SyncMeasure:
    """The sync of a published talking clip against its line's WAV (as the master places it)."""
    fps = float(probe_video(clip).fps)
    frames = np.concatenate(list(read_video(clip)), axis=0)
    audio = read_wav(line)
    track = narration_track(audio.samples, audio.rate, len(frames) / fps, ENVELOPE_RATE)
    return measure_sync(frames, fps, track, ENVELOPE_RATE)
