"""H.264 encoder choice: NVENC where a CUDA device opens it, libx264 otherwise, with the reason."""

from __future__ import annotations

import numpy as np
import pytest

from resources.media.video_io import VideoWriter, choose_h264_encoder, probe_video


def test_the_cpu_gets_libx264_and_the_reason_says_why():
    choice = choose_h264_encoder("cpu")
    assert choice.codec == "libx264" and "NVENC needs a CUDA GPU" in choice.reason


def test_a_cuda_device_without_a_working_nvenc_falls_back_to_libx264_saying_why():
    # This machine has no NVIDIA driver: the wheel's h264_nvenc exists but cannot open.
    choice = choose_h264_encoder("cuda:0")
    assert choice.codec == "libx264"
    assert "h264_nvenc" in choice.reason


def test_asking_for_nvenc_where_it_cannot_run_is_refused_by_name():
    with pytest.raises(ValueError, match="h264_nvenc"):
        choose_h264_encoder("cpu", "h264_nvenc")
    with pytest.raises(ValueError, match="encoder='x265'"):
        choose_h264_encoder("cpu", "x265")


def test_the_writer_encodes_with_the_chosen_codec(tmp_path):
    out = tmp_path / "clip.mp4"
    with VideoWriter(out, width=64, height=48, fps=24, codec="libx264") as writer:
        writer.write(np.zeros((3, 48, 64, 3), np.uint8))
    assert probe_video(out).codec == "h264"
    with pytest.raises(ValueError, match="codec='mpeg4'"):
        VideoWriter(out, width=64, height=48, fps=24, codec="mpeg4")
