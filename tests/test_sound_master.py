"""The master's track: placement, ducking, loudness and true peak measured on decoded AAC."""

from __future__ import annotations

import hashlib
import html
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest
from sound_support import voiced_signal

from assets.stages.deliverables import loudness_check
from resources.domain.sound_files import Audio
from resources.domain.speech import CUE_LINE_CHARS, cues_for, srt, webvtt, wrap_cue
from resources.media.video_io import VideoWriter
from resources.sound.master import (
    RATE,
    Placed,
    decode_audio,
    duck_gain,
    integrated_lufs,
    mix_master,
    music_bed,
    mux_with_audio,
    true_peak_dbtp,
)
from resources.sound.soundtrack import add_soundtrack


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> Path:
    """Three seconds of 64x64 H.264 at 24 fps."""
    path = tmp_path_factory.mktemp("picture") / "picture.mp4"
    frames = np.random.default_rng(0).integers(0, 255, (72, 64, 64, 3), dtype=np.uint8)
    with VideoWriter(path, width=64, height=64, fps=Fraction(24), crf=23, codec="libx264") as w:
        w.write(frames)
    return path


def _speech(seconds: float = 1.5) -> Placed:
    return Placed(voiced_signal(seconds, rate=16_000, level=0.2), 16_000, 0.3)


@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_mix_is_normalised_to_the_target_with_true_peak_under_the_ceiling(target):
    mix = mix_master([_speech()], None, 3.0, target)
    assert integrated_lufs(mix) == pytest.approx(target, abs=0.1)
    assert true_peak_dbtp(mix) <= -1.0


def test_a_peaky_mix_is_limited_to_the_true_peak_ceiling():
    clicks = np.zeros(16_000 * 2, np.float32)
    clicks[::1600] = 1.0  # sparse full-scale clicks: loud peaks, little loudness
    mix = mix_master(
        [Placed(clicks + voiced_signal(2.0, 16_000, level=0.01), 16_000, 0.0)], None, 2.5, -16.0
    )
    assert true_peak_dbtp(mix) <= -1.0
    assert integrated_lufs(mix) == pytest.approx(-16.0, abs=1.0)


def test_music_is_looped_to_the_cut_and_faded_in_and_out():
    track = Audio(np.full((RATE // 2, 2), 0.5, np.float32), RATE)  # half a second
    bed = music_bed(track, RATE * 4)
    assert bed.shape == (RATE * 4, 2)
    assert bed[0].max() == 0.0 and abs(bed[-1]).max() == 0.0  # faded
    assert bed[RATE * 2, 0] == pytest.approx(0.5)  # looped: still playing at 2 s


def test_music_ducks_under_speech_with_attack_and_release():
    speech = np.zeros(RATE * 3, np.float32)
    speech[RATE : RATE * 2] = 0.3  # speech from 1 s to 2 s
    gain = duck_gain(speech)
    assert gain[RATE // 2] == pytest.approx(1.0)
    assert 20 * np.log10(gain[int(RATE * 1.5)]) == pytest.approx(-12.0, abs=0.1)
    assert 0.25 < gain[RATE + RATE // 50] < 1.0  # 20 ms into speech: still going down (attack)
    assert gain[RATE * 2 + RATE // 10] < 1.0  # 100 ms after: still coming back (release)
    assert gain[-1] == pytest.approx(1.0)


def test_muxed_master_has_one_aac_lc_track_and_measures_within_1_lu(picture, tmp_path):
    music = Audio(np.stack([voiced_signal(2.0, RATE, 110, 0.2)] * 2, axis=1), RATE)
    mix = mix_master([_speech()], music, 3.0, -16.0)
    out = tmp_path / "final.mp4"
    mux_with_audio(picture, mix, out)
    with av.open(str(out)) as container:
        (stream,) = container.streams.audio
        assert (stream.codec_context.name, stream.codec_context.profile) == ("aac", "LC")
        assert (stream.codec_context.sample_rate, stream.codec_context.channels) == (48_000, 2)
        assert len(container.streams.video) == 1
    decoded, rate = decode_audio(out)
    assert pyloudnorm.Meter(rate).integrated_loudness(decoded.astype(float)) == pytest.approx(
        -16.0, abs=1.0
    )
    assert true_peak_dbtp(decoded) <= -1.0
    assert abs(len(decoded) / rate - 3.0) <= 1 / 24


def test_same_samples_give_the_same_master_bytes(picture, tmp_path):
    mix = mix_master([_speech()], None, 3.0, -16.0)
    digests = set()
    for name in ("a.mp4", "b.mp4"):
        mux_with_audio(picture, mix, tmp_path / name)
        digests.add(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert len(digests) == 1


def test_loudness_check_fails_a_master_off_its_target(picture, tmp_path):
    wav = tmp_path / "line.wav"
    from resources.domain.sound_files import write_wav

    write_wav(wav, voiced_signal(1.5, 16_000, level=0.2), 16_000)
    sound = add_soundtrack(
        picture,
        tmp_path / "final.mp4",
        lines=[{"id": "a"}],
        line_files={"a": wav},
        music=None,
        frames=[("a", 72)],
        fps=24,
        target_lufs=-23.0,
    )
    assert loudness_check(sound).passed
    wrong = {**sound, "target_lufs": -16.0}  # the same file judged against another target
    check = loudness_check(wrong)
    assert not check.passed
    assert check.description.startswith(f"integrated loudness {sound['lufs']:.2f} LUFS is ")


def test_cues_hold_at_most_two_lines_of_42_characters_with_accents_intact():
    text = (
        "A paciente de 54 anos chegou ao pronto-socorro com febre, tosse produtiva e dor "
        "torácica à direita; a radiografia mostrou consolidação no lobo inferior."
    )
    cues = cues_for("a", text, 1.0, 9.0)
    assert len(cues) > 1
    assert all(1 <= len(c.lines) <= 2 for c in cues)
    assert all(len(line) <= CUE_LINE_CHARS for c in cues for line in c.lines)
    assert " ".join(line for c in cues for line in c.lines) == text
    assert cues[0].start_s == 1.0 and cues[-1].end_s == pytest.approx(9.0, abs=0.002)
    vtt, sub = webvtt(cues), srt(cues)
    assert "torácica à direita" in vtt.replace("\n", " ") or "torácica" in vtt
    assert "00:00:01.000 --> " in vtt and "00:00:01,000 --> " in sub
    assert sub.splitlines()[0] == "1"
    assert wrap_cue("curta") == [["curta"]]


def test_webvtt_keeps_signs_a_player_would_read_as_tags_or_a_cue_end():
    """A clinical line with <, > and & reads the same in a player; the SubRip copy is as typed."""
    text = "PA < 90/60 & FC > 120 --> choque"
    (cue,) = cues_for("a", text, 0.3, 3.0)
    vtt = webvtt([cue])
    assert vtt.splitlines()[3] == "PA &lt; 90/60 &amp; FC &gt; 120 --&gt; choque"
    assert html.unescape(vtt.splitlines()[3]) == text
    # Only the timing line holds "-->": the cue does not end inside its text.
    assert [line for line in vtt.splitlines() if "-->" in line] == ["00:00:00.300 --> 00:00:03.000"]
    assert srt([cue]).splitlines()[2] == text


def test_a_60_s_cut_has_no_drift_between_sound_and_picture(tmp_path):
    picture = tmp_path / "long.mp4"
    frames = np.zeros((24, 16, 16, 3), dtype=np.uint8)
    with VideoWriter(picture, width=16, height=16, fps=Fraction(24), crf=30, codec="libx264") as w:
        for second in range(60):
            w.write(frames + second)
    # A click at 1 s and at 59 s, around speech: where each lands in the decoded track.
    clicks = [Placed(np.ones(48, np.float32), RATE, t) for t in (1.0, 59.0)]
    speech = Placed(voiced_signal(54.0, 16_000, level=0.2), 16_000, 3.0)
    sound = add_soundtrack_from(picture, tmp_path / "final.mp4", [speech, *clicks])
    decoded, rate = decode_audio(tmp_path / "final.mp4")
    for at in (1.0, 59.0):
        window = np.abs(decoded[int((at - 0.5) * rate) : int((at + 0.5) * rate), 0])
        landed = at - 0.5 + int(window.argmax()) / rate
        assert landed == pytest.approx(at, abs=0.002)
    with av.open(str(tmp_path / "final.mp4")) as container:
        video = container.streams.video[0]
        picture_s = float(video.frames / video.average_rate)
    assert picture_s == 60.0
    assert abs(len(decoded) / rate - picture_s) <= 1 / 24
    assert sound["lufs"] == pytest.approx(-16.0, abs=1.0)


def add_soundtrack_from(picture: Path, out: Path, placed: list[Placed]) -> dict:
    from resources.sound.master import measure

    mux_with_audio(picture, mix_master(placed, None, 60.0, -16.0), out)
    return {"lufs": measure(out).lufs}
