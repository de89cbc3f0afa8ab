"""Reframing for another aspect ratio (resources/media/reframe.py): the crop window follows a
real face across a wide shot, smoothly and inside the frame, and a faceless shot is centred."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from resources.media.faces import face_detector, largest_face
from resources.media.reframe import SAMPLE_EVERY, frame_shot, reframe
from resources.media.video_io import read_video, write_video
from resources.tiny.realesrgan import build_tiny_realesrgan
from resources.upscale.final_cut import CutClip, OtherFormat, cut
from resources.upscale.super_resolution import load_upscaler

WIDTH, HEIGHT, FRAMES, FPS = 480, 270, 48, 24
FACE = 150  # the photograph's side in the shot


@pytest.fixture(scope="module")
def walking(tmp_path_factory) -> Path:
    """A wide shot whose subject moves from the left third to the right third."""
    photo = cv2.resize(astronaut(), (FACE, FACE), interpolation=cv2.INTER_AREA)
    frames = np.full((FRAMES, HEIGHT, WIDTH, 3), 40, dtype=np.uint8)
    for t in range(FRAMES):
        left = round(20 + (WIDTH - FACE - 40) * t / (FRAMES - 1))
        frames[t, 60 : 60 + FACE, left : left + FACE] = photo
    path = tmp_path_factory.mktemp("clips") / "walking.mp4"
    write_video(path, frames, fps=FPS, crf=12, preset="ultrafast")
    return path


def test_the_vertical_window_follows_the_face_across_the_shot(walking: Path) -> None:
    framing = frame_shot("walk", walking, (1080, 1920))
    assert framing.mode == "face"
    assert framing.faces == framing.samples == FRAMES // SAMPLE_EVERY
    assert framing.window == (pytest.approx(HEIGHT * 9 / 16), HEIGHT)
    # It moves one way, from the left part of the frame to the right part, never out of it.
    steps = np.diff(framing.lefts)
    assert (steps >= -1e-9).all() and framing.lefts[-1] - framing.lefts[0] > WIDTH / 3
    assert framing.lefts.min() >= 0 and framing.lefts.max() + framing.window[0] <= WIDTH
    assert framing.record()["centres"][0][1] < WIDTH / 2 < framing.record()["centres"][-1][1]


def test_every_reframed_frame_still_shows_the_face_a_centre_crop_loses(walking: Path) -> None:
    framing = frame_shot("walk", walking, (1080, 1920))
    frames = np.concatenate(list(read_video(walking)))
    crops = reframe(frames, list(range(FRAMES)), framing, 1.0)
    detector = face_detector()
    width = crops.shape[2]
    centre = frames[:, :, (WIDTH - width) // 2 : (WIDTH + width) // 2]
    assert all(largest_face(detector, c) is not None for c in crops[::4])
    assert largest_face(detector, centre[0]) is None  # the subject starts outside the centre


def test_a_shot_without_a_face_is_framed_on_its_centre(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, (12, 90, 160, 3), dtype=np.uint8)
    write_video(tmp_path / "noise.mp4", noise, fps=FPS, preset="ultrafast")
    framing = frame_shot("noise", tmp_path / "noise.mp4", (1080, 1080))
    assert framing.mode == "centre" and framing.faces == 0
    assert framing.window_at(0) == (35, 0, 90, 90)
    assert framing.window_at(11) == (35, 0, 90, 90)


def test_the_cut_writes_every_format_from_one_upscale(walking: Path, tmp_path: Path) -> None:
    weights = tmp_path / "x2.pth"
    build_tiny_realesrgan(weights, scale=2, architecture="SRVGGNetCompact")
    model = load_upscaler(weights)
    framing = frame_shot("walk", walking, (180, 320))
    other = OtherFormat("9:16", tmp_path / "final-9x16.mp4", 180, 320, {"walk": framing})
    stats = cut(
        model,
        [CutClip("walk", walking, FRAMES / FPS)],
        tmp_path / "final.mp4",
        width=320,
        height=180,
        fps=FPS,
        batch_size=4,
        extra=[other],
    )
    wide = np.concatenate(list(read_video(tmp_path / "final.mp4")))
    tall = np.concatenate(list(read_video(tmp_path / "final-9x16.mp4")))
    assert wide.shape == (FRAMES, 180, 320, 3) and tall.shape == (FRAMES, 320, 180, 3)
    assert stats.upscaled_frames == FRAMES  # each source frame upscaled once for both
    assert stats.other_samples["9:16"][0].shape == (320, 180, 3)
