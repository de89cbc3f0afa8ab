"""What a brief's sound files must be: a voice sample and a music track, read as WAV (PCM).

Pure: the standard library's `wave` and numpy, no torch. A studio records and masters in WAV;
one format read the same way by the check, the snapshot and the mixer keeps them in agreement.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resources.domain.speech import LEAD_IN_S

SAMPLE_MIN_S, SAMPLE_MAX_S = 5.0, 30.0
# Silent: the loudest 50 ms window below -50 dBFS RMS. Clipped: more than 0.1 % of the samples
# at full scale (a recording that hit the converter's ceiling).
SILENT_DBFS = -50.0
CLIPPED_FRACTION = 0.001
FULL_SCALE = 0.999


class NotAudio(ValueError):
    """A file that is not a readable PCM WAV file."""


@dataclass(frozen=True)
class Audio:
    """Decoded audio: float32 samples in [-1, 1], shape (frames, channels), and its rate."""

    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=1)


def read_wav(path: Path) -> Audio:
    """The samples of a PCM WAV file (8, 16, 24 or 32 bit); NotAudio for anything else."""
    try:
        with wave.open(str(path), "rb") as reader:
            channels, width, rate = (
                reader.getnchannels(),
                reader.getsampwidth(),
                reader.getframerate(),
            )
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, OSError) as error:
        raise NotAudio(f"not a PCM WAV audio file ({error})") from None
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        data = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        data = np.where(ints >= 2**23, ints - 2**24, ints).astype(np.float32) / 2**23
    else:
        data = np.frombuffer(raw, "<i4").astype(np.float32) / 2**31
    if rate <= 0 or channels <= 0 or data.size == 0:
        raise NotAudio("a WAV file without samples")
    return Audio(data[: data.size // channels * channels].reshape(-1, channels), rate)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """16-bit PCM WAV of float samples (frames,) or (frames, channels): same samples, same bytes."""
    data = samples if samples.ndim == 2 else samples[:, None]
    ints = np.clip(np.round(data * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(data.shape[1])
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(ints.tobytes())


def loudest_window_dbfs(audio: Audio, window_s: float = 0.05) -> float:
    """RMS level of the loudest `window_s` window, in dBFS (-inf for digital silence)."""
    mono = audio.mono().astype(np.float64)
    size = max(1, int(audio.rate * window_s))
    usable = len(mono) // size * size
    frames = mono[:usable].reshape(-1, size) if usable else mono[None, :]
    rms = float(np.sqrt((frames**2).mean(axis=1)).max())
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def sample_problem(path: Path) -> tuple[str, str] | None:
    """What is wrong with a voice sample (English, Portuguese), or None when usable."""
    if not path.is_file():
        return f"{path}: file not found", f"{path}: arquivo não encontrado"
    try:
        audio = read_wav(path)
    except NotAudio as error:
        return f"{path}: {error}", f"{path}: não é um arquivo de áudio WAV (PCM)"
    seconds = audio.seconds
    if seconds < SAMPLE_MIN_S or seconds > SAMPLE_MAX_S:
        return (
            f"{path}: {seconds:.1f} s long; a voice sample is {SAMPLE_MIN_S:g}-{SAMPLE_MAX_S:g} s",
            f"{path}: {seconds:.1f} s; uma amostra de voz tem de {SAMPLE_MIN_S:g} a "
            f"{SAMPLE_MAX_S:g} s",
        )
    level = loudest_window_dbfs(audio)
    if level < SILENT_DBFS:
        return (
            f"{path}: silent (loudest 50 ms at {level:.1f} dBFS, below {SILENT_DBFS:g})",
            f"{path}: silencioso (trecho mais alto a {level:.1f} dBFS, abaixo de {SILENT_DBFS:g})",
        )
    clipped = float((np.abs(audio.samples) >= FULL_SCALE).mean())
    if clipped > CLIPPED_FRACTION:
        return (
            f"{path}: clipped ({clipped:.2%} of samples at full scale); record it again lower",
            f"{path}: saturado ({clipped:.2%} das amostras no máximo); grave de novo mais baixo",
        )
    return None


def music_problem(path: Path) -> tuple[str, str] | None:
    """What is wrong with a music file (English, Portuguese), or None when usable."""
    if not path.is_file():
        return f"{path}: file not found", f"{path}: arquivo não encontrado"
    try:
        read_wav(path)
    except NotAudio as error:
        return f"{path}: {error}", f"{path}: não é um arquivo de áudio WAV (PCM)"
    return None


def narration_track(samples: np.ndarray, rate: int, seconds: float, to_rate: int) -> np.ndarray:
    """The shot's sound as the master will play it: silence, the line from LEAD_IN_S on (mono,
    resampled to `to_rate`), cut or padded to the shot's `seconds`."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    length = int(round(len(mono) * to_rate / rate))
    resampled = np.interp(np.arange(length) * rate / to_rate, np.arange(len(mono)), mono)
    track = np.zeros(int(round(seconds * to_rate)), dtype=np.float32)
    start = int(round(LEAD_IN_S * to_rate))
    piece = resampled[: max(0, len(track) - start)]
    track[start : start + len(piece)] = piece
    return track
