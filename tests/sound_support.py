"""Sound for tests, made in code: a voiced signal standing in for a recorded voice sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from resources.domain.sound_files import write_wav


def voiced_signal(seconds: float, rate: int = 24_000, f0: float = 190.0, level: float = 0.3):
    """A vowel-like tone: harmonics of a gliding f0, shaped into ~4 syllables a second."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = 0.5 * (1 - np.cos(2 * np.pi * 4 * t)) ** 1.5
    signal = tone * syllables
    return (level * signal / np.abs(signal).max()).astype(np.float32)


def write_voice_sample(path: Path, seconds: float = 6.0, **options) -> Path:
    """A voice sample WAV of `seconds` (mono, 16-bit, 24 kHz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, voiced_signal(seconds, **options), options.get("rate", 24_000))
    return path


def write_music(path: Path, seconds: float = 2.0, rate: int = 44_100) -> Path:
    """A stereo music-like WAV: two chords alternating each half second."""
    t = np.arange(int(seconds * rate)) / rate
    chord = np.where((t * 2).astype(int) % 2 == 0, 1.0, 1.26)
    left = sum(np.sin(2 * np.pi * 220 * chord * r * t) for r in (1, 1.25, 1.5))
    right = sum(np.sin(2 * np.pi * 220 * chord * r * t + 0.3) for r in (1, 1.25, 1.5))
    stereo = 0.2 * np.stack([left, right], axis=1) / 3
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, stereo.astype(np.float32), rate)
    return path


def voiced_character(inbox: Path) -> dict:
    """Dra. Ana with a recorded voice sample (written into `inbox`) and its consent."""
    write_voice_sample(inbox / "voz.wav")
    return {
        "id": "dr-ana",
        "name": "Dra. Ana Souza",
        "description": "a physician with dark curly hair",
        "trigger": "drana",
        "voice": {
            "sample": "voz.wav",
            "transcript": "Bom dia, este é um exemplo da minha voz.",
            "consent": {"by": "Ana Souza", "on": "2026-11-30"},
        },
    }
