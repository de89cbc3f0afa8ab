"""Luma checks: black and frozen stretches are found and measured; moving pictures pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resources.media.video_checks import format_problems, inspect_video, picture_problems
from resources.media.video_io import write_video

FPS = 24


def _moving(n: int, seed: int = 0) -> np.ndarray:
    """Mid-grey noise that changes every frame: neither black nor frozen."""
    rng = np.random.default_rng(seed)
    return rng.integers(60, 200, (n, 64, 96, 3), dtype=np.uint8)


def _write(path: Path, frames: np.ndarray) -> Path:
    write_video(path, frames, fps=FPS, preset="ultrafast")
    return path


def test_moving_clip_has_no_black_or_frozen_stretch(tmp_path: Path) -> None:
    report = inspect_video(_write(tmp_path / "ok.mp4", _moving(36)))
    assert picture_problems(report) == []
    assert report.longest_black_s == 0.0
    assert report.motion_mean > 5


def test_one_second_of_black_is_found_and_measured(tmp_path: Path) -> None:
    frames = _moving(48)
    frames[12:36] = 0  # 24 frames: one second
    report = inspect_video(_write(tmp_path / "black.mp4", frames))
    assert report.longest_black_s == pytest.approx(1.0)
    assert picture_problems(report) == ["black for 1.00 s (at most 0.5 s)"]


def test_a_held_frame_for_two_seconds_is_frozen(tmp_path: Path) -> None:
    frames = _moving(72)
    frames[12:60] = frames[12]  # the same picture for 48 frames
    report = inspect_video(_write(tmp_path / "frozen.mp4", frames))
    # The encoder sharpens a held picture over its first few frames: measured within 0.25 s.
    assert report.longest_frozen_s == pytest.approx(2.0, abs=0.25)
    assert picture_problems(report)[0].startswith("frozen for")


def test_every_other_frame_repeated_is_not_frozen(tmp_path: Path) -> None:
    frames = np.repeat(_moving(24), 2, axis=0)  # what retiming 12 -> 24 fps does
    assert picture_problems(inspect_video(_write(tmp_path / "retimed.mp4", frames))) == []


def test_format_problems_name_resolution_fps_and_frame_count(tmp_path: Path) -> None:
    report = inspect_video(_write(tmp_path / "ok.mp4", _moving(12)))
    problems = format_problems(report, width=1920, height=1080, fps=25, frame_count=13)
    assert problems == [
        "resolution 96x64, expected 1920x1080",
        "fps 24, expected 25",
        "12 frames, expected 13",
    ]
