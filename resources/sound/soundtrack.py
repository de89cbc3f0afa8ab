"""A cut's soundtrack: its lines placed at their shots, the music, the master track, subtitles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resources.domain.sound_files import read_wav
from resources.domain.speech import LEAD_IN_S, Cue, cues_for, srt, webvtt
from resources.sound.master import Placed, measure, mix_master, mux_with_audio

SUBTITLES_VTT = "final.vtt"
SUBTITLES_SRT = "final.srt"


def shot_starts(frames: list[tuple[str, int]], fps: int) -> dict[str, float]:
    """Where each shot starts in the cut, in seconds, from the frames the cut gave each."""
    starts, at = {}, 0
    for shot_id, count in frames:
        starts[shot_id] = at / fps
        at += count
    return starts


def place_lines(
    lines: list[dict[str, Any]],
    line_files: dict[str, Path],
    frames: list[tuple[str, int]],
    fps: int,
) -> list[dict[str, Any]]:
    """Where each line sits in the cut: its shot's start plus the lead-in, for its length."""
    starts = shot_starts(frames, fps)
    placements = []
    for line in lines:
        seconds = read_wav(line_files[line["id"]]).seconds
        start = starts[line["id"]] + LEAD_IN_S
        placements.append(
            {"id": line["id"], "start_s": round(start, 3), "end_s": round(start + seconds, 3)}
        )
    return placements


def add_soundtrack(
    picture: Path,
    out_file: Path,
    *,
    lines: list[dict[str, Any]],
    line_files: dict[str, Path],
    music: Path | None,
    frames: list[tuple[str, int]],
    fps: int,
    target_lufs: float,
    shot_sound: dict[str, Path] | None = None,
    also: dict[Path, Path] | None = None,
) -> dict[str, Any]:
    """Mix the lines (each at its shot's start plus the lead-in) and music under `picture`.

    Writes `out_file` (picture stream copied, one AAC track); returns the figures measured on
    the decoded file and where each line sits, for the manifest. Each picture of `also` (the
    other formats of the same cut) gets the same mix, written to its own file.
    """
    starts = shot_starts(frames, fps)
    duration_s = sum(count for _, count in frames) / fps
    placed = []
    for line in lines:
        audio = read_wav(line_files[line["id"]])
        placed.append(Placed(audio.mono(), audio.rate, starts[line["id"]] + LEAD_IN_S))
    own = []  # the sound a model generated with a shot, from the shot's start
    for shot_id, path in (shot_sound or {}).items():
        audio = read_wav(path)
        own.append(Placed(audio.mono(), audio.rate, starts[shot_id]))
    mix = mix_master(placed, read_wav(music) if music else None, duration_s, target_lufs, own)
    mux_with_audio(picture, mix, out_file)
    for other, other_out in (also or {}).items():
        mux_with_audio(other, mix, other_out)
    measured = measure(out_file)
    return {
        "target_lufs": target_lufs,
        "lufs": measured.lufs,
        "true_peak_dbtp": float(measured.true_peak_dbtp),
        "audio_duration_s": measured.duration_s,
        "picture_duration_s": round(duration_s, 4),
        "fps": fps,
        "codec": "aac",
        "sample_rate": 48_000,
        "channels": 2,
        "lines": place_lines(lines, line_files, frames, fps),
        "shot_sound": sorted(shot_sound or {}),
    }


def subtitle_cues(lines: list[dict[str, Any]], placements: list[dict]) -> list[Cue]:
    """One cue (or more, when long) a line, timed from where the cut places it."""
    text = {line["id"]: line["text"] for line in lines}
    cues: list[Cue] = []
    for index, place in enumerate(placements):
        # A line that runs into the next shot (lines_fit_their_shots says so) still hands the
        # screen over when the next line starts: cues never overlap.
        following = placements[index + 1]["start_s"] if index + 1 < len(placements) else None
        end = place["end_s"] if following is None else min(place["end_s"], following)
        cues += cues_for(place["id"], text[place["id"]], place["start_s"], end)
    return cues


def write_subtitles(folder: Path, lines: list[dict[str, Any]], placements: list[dict]) -> list[str]:
    """WebVTT and SRT of the lines' cues beside the master; the files' names."""
    cues = subtitle_cues(lines, placements)
    (folder / SUBTITLES_VTT).write_text(webvtt(cues), encoding="utf-8")
    (folder / SUBTITLES_SRT).write_text(srt(cues), encoding="utf-8")
    return [SUBTITLES_VTT, SUBTITLES_SRT]
