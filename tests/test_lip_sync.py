"""The lip-sync measurement (resources/qc/lip_sync.py) on a real photograph whose mouth opens a
known number of frames after a known sound: it finds the face, the lag and the verdict."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from resources.domain.sound_files import narration_track, write_wav
from resources.domain.speech import LEAD_IN_S
from resources.media.video_io import write_video
from resources.qc.lip_sync import (
    MAX_LAG_FRAMES,
    find_face,
    measure_clip,
    measure_sync,
    mouth_region,
)

FPS, FRAMES, RATE = 24, 72, 24000  # 1000 samples a frame
SIZE = 256


@pytest.fixture(scope="module")
def face_frame() -> np.ndarray:
    return cv2.resize(astronaut(), (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def _syllables(seed: int) -> np.ndarray:
    """Per frame, how open the mouth is for a line: syllables of 2 to 5 frames, random loudness."""
    rng = np.random.default_rng(seed)
    level, t = np.zeros(FRAMES), 0
    while t < FRAMES:
        length = int(rng.integers(2, 6))
        level[t : t + length] = rng.uniform(0.2, 1.0) if rng.random() < 0.6 else 0.0
        t += length
    return level


def _sound(level: np.ndarray) -> np.ndarray:
    """A tone whose loudness per frame is `level` (the shot's sound, frame-aligned)."""
    per = RATE // FPS
    tone = np.sin(2 * np.pi * 220 * np.arange(FRAMES * per) / RATE)
    return (np.repeat(level, per) * tone * 0.5).astype(np.float32)


def _talking(face_frame: np.ndarray, level: np.ndarray, lag: int) -> np.ndarray:
    """Frames of the photograph whose mouth opens `level[t - lag]`: the picture `lag` late."""
    face = find_face(face_frame[None])
    x, y, w, h = mouth_region(face)
    rng = np.random.default_rng(7)
    frames = []
    for t in range(FRAMES):
        frame = face_frame.copy()
        opening = level[min(max(t - lag, 0), FRAMES - 1)]
        centre = (x + w // 2, y + h // 2)
        axes = (w // 3, max(1, int(round(opening * h / 2))))
        cv2.ellipse(frame, centre, axes, 0, 0, 360, (40, 10, 10), -1)
        noise = rng.integers(-2, 3, frame.shape)  # a camera's grain
        frames.append(np.clip(frame.astype(int) + noise, 0, 255).astype(np.uint8))
    return np.stack(frames)


def test_the_detector_finds_the_astronaut_s_face(face_frame):
    x, y, w, h = find_face(face_frame[None])
    # The face of skimage's astronaut (Eileen Collins) sits in the upper middle of the picture.
    assert 60 < x + w / 2 < 130 and 30 < y + h / 2 < 100 and 30 < w < 90


@pytest.mark.parametrize("lag", [0, 1, -2, 4, -5])
def test_the_measured_lag_is_the_lag_the_picture_was_made_with(face_frame, lag):
    level = _syllables(seed=lag + 10)
    found = measure_sync(_talking(face_frame, level, lag), FPS, _sound(level), RATE)
    assert found.lag_frames == lag and found.correlation > 0.5
    assert found.verdict == ("in_sync" if abs(lag) <= MAX_LAG_FRAMES else "out_of_sync")
    assert found.failed == (abs(lag) > MAX_LAG_FRAMES)


def test_a_picture_without_a_face_is_not_measured():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (FRAMES, 128, 192, 3), dtype=np.uint8)
    found = measure_sync(frames, FPS, _sound(_syllables(1)), RATE)
    assert found.verdict == "not_measured" and found.lag_frames is None
    assert "no face found" in found.reason and not found.failed


def test_a_mouth_that_does_not_follow_the_line_is_inconclusive(face_frame):
    level = _syllables(2)
    still = np.stack([face_frame] * FRAMES)  # the mouth never moves
    found = measure_sync(still, FPS, _sound(level), RATE)
    assert found.verdict == "inconclusive" and found.lag_frames is None and not found.failed


def test_a_published_clip_is_measured_against_its_line_as_the_master_places_it(
    face_frame, tmp_path
):
    """measure_clip reads the H.264 clip and the line's WAV; the line starts after the lead-in."""
    level = _syllables(3)
    lead = int(round(LEAD_IN_S * RATE))
    line = _sound(level)[lead:]  # the WAV holds the line alone; the master plays it from lead
    placed = narration_track(line, RATE, FRAMES / FPS, RATE)
    assert np.allclose(placed[lead:], _sound(level)[lead:]) and not placed[:lead].any()
    clip, wav = tmp_path / "clip.mp4", tmp_path / "line.wav"
    write_video(clip, _talking(face_frame, level, 3), fps=FPS)
    write_wav(wav, line, RATE)
    found = measure_clip(clip, wav)
    assert found.lag_frames == 3 and found.verdict == "out_of_sync"
