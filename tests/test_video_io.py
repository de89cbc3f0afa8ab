"""Video I/O: H.264 writing, probing, streaming decode and retiming, checked on real files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from resources.media.video_io import (
    VideoWriter,
    probe_video,
    read_frames,
    read_video,
    retime_indices,
    write_video,
)

WIDTH, HEIGHT, FPS, FRAMES = 128, 72, 24, 30


def _clip(n: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Smooth gradients and a moving square: content H.264 reproduces closely."""
    frames = np.zeros((n, height, width, 3), dtype=np.uint8)
    frames[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, None, :]
    frames[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[None, :, None]
    for i in range(n):
        frames[i, 20:44, 10 + 2 * i : 34 + 2 * i, 2] = 220
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    frames = _clip()
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_video(path, frames, fps=FPS)
    return path, frames


def test_probe_reports_what_was_written(clip: tuple[Path, np.ndarray]) -> None:
    info = probe_video(clip[0])
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == FPS
    assert info.frame_count == FRAMES
    assert info.duration_s == pytest.approx(FRAMES / FPS, abs=1 / FPS)


def test_written_mp4_has_moov_before_mdat(clip: tuple[Path, np.ndarray]) -> None:
    assert probe_video(clip[0]).faststart


def test_fractional_fps_round_trips_exactly(tmp_path: Path) -> None:
    path = tmp_path / "ntsc.mp4"
    write_video(path, _clip(6), fps=Fraction(24000, 1001))
    assert probe_video(path).fps == Fraction(24000, 1001)


def test_decoded_frames_are_close_to_the_written_ones(clip: tuple[Path, np.ndarray]) -> None:
    path, written = clip
    decoded = np.concatenate(list(read_video(path)))
    error = np.abs(decoded.astype(np.int16) - written.astype(np.int16))
    # H.264 at CRF 18 is lossy but close: a few levels on average over these smooth frames.
    assert error.mean() < 4
    assert error[FRAMES // 2].mean() < 4


def test_read_video_streams_bounded_batches_covering_every_frame(
    clip: tuple[Path, np.ndarray],
) -> None:
    sizes = []
    for batch in read_video(clip[0], batch_size=7):
        assert batch.shape[1:] == (HEIGHT, WIDTH, 3) and batch.dtype == np.uint8
        sizes.append(len(batch))
    assert max(sizes) <= 7
    assert sum(sizes) == FRAMES


def test_read_frames_gives_read_videos_frames_at_the_indices_asked_and_no_others(
    clip: tuple[Path, np.ndarray],
) -> None:
    every = np.concatenate(list(read_video(clip[0])))
    asked = [FRAMES - 1, 0, 5, 5, 9]
    found = list(read_frames(clip[0], asked))
    assert [index for index, _ in found] == [0, 5, 9, FRAMES - 1]  # in order, each once
    for index, frame in found:
        assert np.array_equal(frame, every[index])
    assert list(read_frames(clip[0], [])) == []
    # An index past the last frame: the frames before it, and no error.
    assert [i for i, _ in read_frames(clip[0], [2, FRAMES + 10])] == [2]


def test_exception_inside_with_leaves_no_file_and_no_temp_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="render failed"):
        with VideoWriter(tmp_path / "out.mp4", width=WIDTH, height=HEIGHT, fps=FPS) as writer:
            writer.write(_clip(3))
            raise RuntimeError("render failed")
    assert list(tmp_path.iterdir()) == []


def test_clean_exit_without_frames_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        with VideoWriter(tmp_path / "out.mp4", width=WIDTH, height=HEIGHT, fps=FPS):
            pass
    assert list(tmp_path.iterdir()) == []


def test_frames_of_the_wrong_size_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape"):
        with VideoWriter(tmp_path / "out.mp4", width=WIDTH, height=HEIGHT, fps=FPS) as writer:
            writer.write(_clip(2, height=HEIGHT + 2))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("width", "height", "name"), [(127, 72, "width"), (128, 71, "height")])
def test_odd_size_raises_naming_it(tmp_path: Path, width: int, height: int, name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}="):
        VideoWriter(tmp_path / "out.mp4", width=width, height=height, fps=FPS)


def test_retime_16_to_24_fps_maps_48_frames_to_72_monotonically() -> None:
    indices = retime_indices(48, 16, 24, 72)
    assert len(indices) == 72
    assert indices[0] == 0 and indices[-1] == 47
    assert all(a <= b for a, b in zip(indices, indices[1:], strict=False))
    assert set(indices) == set(range(48))  # slowing nothing down means no source frame is lost


def test_probe_of_a_text_file_raises_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(ValueError, match="notes.txt"):
        probe_video(path)


_ENCODE_UNDER_AFFINITY = """
import hashlib, os, sys
import numpy as np
from resources.media.video_io import write_video
os.sched_setaffinity(0, {int(c) for c in sys.argv[2].split(",")})
ramp = np.arange(40)[:, None, None, None] * 3
noise = np.random.default_rng(0).integers(0, 256, (1, 180, 320, 3))
write_video(sys.argv[1], (noise + ramp).clip(0, 255).astype(np.uint8), fps=30)
print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())
"""


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two CPUs to compare affinities",
)
def test_encoded_bytes_do_not_depend_on_the_cpus_the_process_may_use(tmp_path: Path) -> None:
    # libx264's automatic thread count follows the affinity mask and changes the bitstream.
    cpus = sorted(os.sched_getaffinity(0))
    digests = set()
    for index, mask in enumerate([str(cpus[0]), f"{cpus[0]},{cpus[1]}"]):
        out = tmp_path / f"{index}.mp4"
        result = subprocess.run(
            [sys.executable, "-c", _ENCODE_UNDER_AFFINITY, str(out), mask],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1


def test_the_same_frames_encode_to_the_same_bytes_whatever_the_process_allocated_before(
    tmp_path: Path,
) -> None:
    # libx264's macroblock tree read memory it had not written: six encodes of these frames in
    # one process, with allocations between them, gave six files (X264_PARAMS turns it off).
    rng = np.random.default_rng(25)
    steps = rng.integers(0, 256, (25, 240, 432, 3)).astype(np.float32) * 0.05
    frames = (np.cumsum(steps, axis=0) % 256).astype(np.uint8)
    digests = set()
    for index in range(4):
        ballast = [bytearray(size) for size in rng.integers(1, 1 << 20, size=index * 7)]
        out = tmp_path / f"{index}.mp4"
        write_video(out, frames, fps=24)
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
        del ballast
    assert len(digests) == 1
