"""Seconds of video to frames, the one formula every stage uses."""

from __future__ import annotations


def frames_for(duration_s: float, fps: float) -> int:
    """Frames that show `duration_s` seconds at `fps`: the nearest whole count, at least one."""
    return max(1, round(duration_s * fps))
