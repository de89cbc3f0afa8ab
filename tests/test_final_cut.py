"""The final cut: shots joined in order, retimed to the brief's fps, source frames upscaled once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resources.media.video_io import probe_video, read_video, write_video
from resources.tiny.realesrgan import build_tiny_realesrgan
from resources.upscale.final_cut import CutClip, cut, retimed_batches
from resources.upscale.super_resolution import load_upscaler

SIZE = (48, 32)  # tiny source clips (width, height); x4 then fitted to 256x144


@pytest.fixture(scope="module")
def x4(tmp_path_factory: pytest.TempPathFactory):
    # The compact architecture adds its output to the upsampled input, so colours survive its
    # random weights: the order of the shots can be read back from the final cut.
    path = tmp_path_factory.mktemp("weights") / "realesr-general-x4v3.pth"
    build_tiny_realesrgan(path, scale=4, architecture="SRVGGNetCompact")
    return load_upscaler(path)


def _solid_clip(path: Path, colour: tuple[int, int, int], frames: int, fps: int) -> Path:
    width, height = SIZE
    clip = np.empty((frames, height, width, 3), dtype=np.uint8)
    clip[:] = colour
    write_video(path, clip, fps=fps, preset="ultrafast")
    return path


def test_16_fps_shot_is_retimed_to_24_fps_upscaling_each_source_frame_once(
    x4, tmp_path: Path
) -> None:
    clip = _solid_clip(tmp_path / "a.mp4", (90, 120, 150), frames=9, fps=16)
    stats = cut(
        x4, [CutClip("a", clip, 0.5)], tmp_path / "final.mp4", width=256, height=144, fps=24
    )
    info = probe_video(tmp_path / "final.mp4")
    assert (info.width, info.height, info.fps, info.frame_count) == (256, 144, 24, 12)
    assert stats.frames == 12
    assert stats.upscaled_frames == 8  # 0.5 s at 16 fps: 8 source frames for 12 output frames


def test_shots_are_joined_in_brief_order(x4, tmp_path: Path) -> None:
    red = _solid_clip(tmp_path / "red.mp4", (220, 30, 30), frames=9, fps=16)
    blue = _solid_clip(tmp_path / "blue.mp4", (30, 30, 220), frames=9, fps=16)
    clips = [CutClip("blue", blue, 0.25), CutClip("red", red, 0.5)]
    stats = cut(x4, clips, tmp_path / "final.mp4", width=256, height=144, fps=24)
    frames = np.concatenate(list(read_video(tmp_path / "final.mp4")))
    centre = frames[:, 72, 128].astype(int)  # one pixel in the middle of each frame
    is_blue = centre[:, 2] > centre[:, 0]
    assert stats.per_clip_frames == {"blue": 6, "red": 12}
    assert is_blue[:6].all() and not is_blue[6:].any()


def test_retimed_batches_are_bounded_and_exact(tmp_path: Path) -> None:
    clip = _solid_clip(tmp_path / "a.mp4", (100, 100, 100), frames=17, fps=16)
    sizes = [len(b) for b in retimed_batches(clip, 24, 24, batch_size=5)]
    assert sum(sizes) == 24
    assert max(sizes) <= 5
