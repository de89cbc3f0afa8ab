"""The master's sound: lines placed on the cut, music ducked under them, loudness, AAC in the mp4.

Loudness is measured with pyloudnorm (ITU-R BS.1770-4); true peak by 4x oversampling. The mix
is normalised to the target, limited to the true-peak ceiling, and the encoded AAC track is
decoded and measured again: the figures recorded are those of the file a client receives.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from resources.domain.sound_files import Audio

RATE = 48_000
AAC_BITRATE = 192_000
TRUE_PEAK_MAX = -1.0  # dBTP, the deliverable's ceiling
_PEAK_AIM = -1.5  # before encoding: AAC adds a few tenths of a dB of overshoot
MUSIC_FADE_IN_S, MUSIC_FADE_OUT_S = 1.0, 2.0
DUCK_DB = -12.0  # music under speech
DUCK_ATTACK_S, DUCK_RELEASE_S = 0.05, 0.4


@dataclass(frozen=True)
class Placed:
    """One line's samples and where the cut starts it."""

    samples: np.ndarray  # mono float32
    rate: int
    start_s: float


@dataclass(frozen=True)
class Loudness:
    """What a master's track measures: integrated loudness, true peak, length."""

    lufs: float
    true_peak_dbtp: float
    duration_s: float


def resample(samples: np.ndarray, rate: int, to: int = RATE) -> np.ndarray:
    """`samples` (frames, ...) at `to` Hz, polyphase (deterministic)."""
    if rate == to:
        return samples.astype(np.float32)
    from scipy.signal import resample_poly  # scipy where a master is mixed (generator.py)

    g = np.gcd(rate, to)
    return resample_poly(samples, to // g, rate // g, axis=0).astype(np.float32)


def speech_bed(lines: list[Placed], total: int) -> np.ndarray:
    """Every line at its start, mono, `total` samples at RATE (a line past the end is cut)."""
    bed = np.zeros(total, np.float32)
    for line in lines:
        samples = resample(line.samples, line.rate)
        at = int(round(line.start_s * RATE))
        end = min(total, at + len(samples))
        if end > at:
            bed[at:end] += samples[: end - at]
    return bed


def duck_gain(speech: np.ndarray) -> np.ndarray:
    """Music gain per sample: DUCK_DB while speech plays, with attack and release ramps."""
    hop = RATE // 100  # 10 ms
    frames = len(speech) // hop + 1
    padded = np.zeros(frames * hop, np.float32)
    padded[: len(speech)] = np.abs(speech)
    active = padded.reshape(frames, hop).max(axis=1) > 1e-3
    low = 10 ** (DUCK_DB / 20)
    attack, release = (1 - low) / max(1, DUCK_ATTACK_S * 100), (1 - low) / (DUCK_RELEASE_S * 100)
    gains, g = np.empty(frames, np.float32), 1.0
    for i, on in enumerate(active):
        g = max(low, g - attack) if on else min(1.0, g + release)
        gains[i] = g
    return np.repeat(gains, hop)[: len(speech)]


def music_bed(music: Audio, total: int) -> np.ndarray:
    """The track looped or trimmed to `total` samples at RATE, stereo, faded in and out."""
    stereo = music.samples if music.samples.shape[1] == 2 else np.repeat(music.samples[:, :1], 2, 1)
    track = resample(stereo, music.rate)
    repeats = -(-total // len(track))
    bed = np.tile(track, (repeats, 1))[:total]
    fade_in, fade_out = int(MUSIC_FADE_IN_S * RATE), int(MUSIC_FADE_OUT_S * RATE)
    ramp = np.ones(total, np.float32)
    ramp[: min(fade_in, total)] = np.linspace(0, 1, min(fade_in, total), dtype=np.float32)
    if fade_out:
        ramp[-min(fade_out, total) :] *= np.linspace(1, 0, min(fade_out, total), dtype=np.float32)
    return bed * ramp[:, None]


def true_peak_dbtp(samples: np.ndarray) -> float:
    """True peak of (frames, channels) samples by 4x oversampling, in dBTP."""
    from scipy.signal import resample_poly

    over = resample_poly(samples.astype(np.float64), 4, 1, axis=0)
    peak = float(np.abs(over).max()) if over.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def integrated_lufs(samples: np.ndarray, rate: int = RATE) -> float:
    import pyloudnorm  # with scipy.signal

    return float(pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64)))


def normalise(mix: np.ndarray, target_lufs: float) -> np.ndarray:
    """`mix` at `target_lufs` integrated, limited so its true peak stays under the ceiling."""
    out = mix.astype(np.float64)
    ceiling = 10 ** (_PEAK_AIM / 20) * 0.97
    # Gain to the target, limit the peaks that gain pushed over the ceiling, and again: each
    # round the limiter takes less loudness away. A mix that still peaks over is limited last
    # (it then measures a little under its target; the master's check says by how much).
    for _ in range(12):
        out = out * 10 ** ((target_lufs - integrated_lufs(out)) / 20)
        if true_peak_dbtp(out) <= _PEAK_AIM:
            return out.astype(np.float32)
        out = _limit(out, ceiling)
    return out.astype(np.float32)


def _limit(samples: np.ndarray, ceiling: float) -> np.ndarray:
    """Gain reduction where the oversampled peak passes `ceiling`, held 5 ms, released 50 ms."""
    from scipy.ndimage import minimum_filter1d
    from scipy.signal import resample_poly

    over = np.abs(resample_poly(samples, 4, 1, axis=0)).max(axis=1)
    peak = over[: len(over) // 4 * 4].reshape(-1, 4).max(axis=1)
    peak = np.pad(peak, (0, len(samples) - len(peak)), constant_values=0)
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    hold = int(0.005 * RATE)
    held = minimum_filter1d(need, size=2 * hold + 1, mode="nearest")
    release = 1 - np.exp(-1 / (0.05 * RATE))
    gain, g = np.empty_like(held), 1.0
    for i, want in enumerate(held):
        g = want if want < g else g + (want - g) * release
        gain[i] = g
    return samples * gain[:, None]


def mix_master(
    lines: list[Placed],
    music: Audio | None,
    duration_s: float,
    target_lufs: float,
    shot_sound: list[Placed] = (),
) -> np.ndarray:
    """The master's stereo track: lines, music ducked under them, normalised; float32 (n, 2).

    `shot_sound`: the sound a model generated with its shots (LTX-2: room tone, effects), each
    at its shot's start, ducked under the lines like the music."""
    total = int(round(duration_s * RATE))
    speech = speech_bed(lines, total)
    mix = np.repeat(speech[:, None], 2, axis=1)
    if music is not None or shot_sound:
        ducked = duck_gain(speech)[:, None] * 10 ** (-6 / 20)
    if music is not None:
        mix = mix + music_bed(music, total) * ducked
    if shot_sound:
        mix = mix + speech_bed(list(shot_sound), total)[:, None] * ducked
    return normalise(mix, target_lufs)


def mux_with_audio(picture: Path, audio: np.ndarray, out_file: Path) -> None:
    """`picture`'s video stream copied, with `audio` as one AAC-LC 48 kHz stereo track.

    The AAC encoder is FFmpeg's own, at a fixed bitrate, single-threaded and bitexact: the same
    samples give the same bytes. Written to a temporary name, renamed when complete.
    """
    fd, tmp = tempfile.mkstemp(
        prefix=f".{out_file.stem}.", suffix=".partial.mp4", dir=out_file.parent
    )
    os.close(fd)
    try:
        with (
            av.open(str(picture)) as source,
            av.open(tmp, "w", format="mp4", container_options={"movflags": "+faststart"}) as out,
        ):
            out.metadata.clear()
            video_in = source.streams.video[0]
            video_out = out.add_stream_from_template(video_in)
            sound = out.add_stream("aac", rate=RATE, layout="stereo")
            sound.bit_rate = AAC_BITRATE
            sound.codec_context.thread_count = 1
            for packet in source.demux(video_in):
                if packet.dts is None:
                    continue
                packet.stream = video_out
                out.mux(packet)
            _encode_audio(out, sound, audio)
        os.replace(tmp, out_file)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _encode_audio(out, stream, audio: np.ndarray) -> None:
    block = 1024
    planar = np.ascontiguousarray(audio.T.astype(np.float32))
    for at in range(0, planar.shape[1], block):
        chunk = np.ascontiguousarray(planar[:, at : at + block])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = at
        frame.time_base = Fraction(1, RATE)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """The first audio track of `path` as float32 (frames, channels), and its rate."""
    chunks = []
    with av.open(str(path)) as source:
        stream = source.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for frame in source.decode(stream):
            chunks.append(frame.to_ndarray().astype(np.float32))
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0), np.float32)
    return data.T, rate


def measure(path: Path) -> Loudness:
    """Integrated loudness, true peak and length of `path`'s decoded audio track."""
    samples, rate = decode_audio(path)
    return Loudness(
        round(integrated_lufs(samples, rate), 2),
        round(true_peak_dbtp(samples), 2),
        round(len(samples) / rate, 4),
    )
