"""The voice engine: one line of text to a mono waveform, seeded.

Qwen3-TTS speaks in a worker process in the voice environment (resources/sound/qwen3_tts_worker.py),
started once per stage and fed one JSON request a line: the Base checkpoint clones a recorded
sample, the CustomVoice checkpoint speaks a stock voice (a preset). The tiny and production
profiles load the same classes from a folder (the model store's); only the weights differ. The
same line, voice, seed and limit give the same samples.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from resources.domain.registry import VoiceModel

WORKER = Path(__file__).with_name("qwen3_tts_worker.py")


class VoiceEngineError(RuntimeError):
    """The voice engine could not speak a line (its one-line reason)."""


@dataclass
class Reference:
    """The recorded voice a cloning engine imitates: the sample and what it says."""

    audio: Path
    transcript: str


@dataclass
class VoiceEngine:
    """Qwen3-TTS speaking in its worker process; `close()` ends the process."""

    entry: VoiceModel
    process: subprocess.Popen
    scratch: tempfile.TemporaryDirectory
    rate: int = 0
    spoken: int = field(default=0)

    @classmethod
    def load(cls, entry: VoiceModel, folder: Path, device: str, python: str) -> VoiceEngine:
        """The worker for `entry`'s checkpoint in `folder`, started and ready."""
        gpu = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        worker_device = ("cuda:0" if device in ("auto", "cuda") else device) if gpu else "cpu"
        scratch = tempfile.TemporaryDirectory(prefix="voice-")
        log = open(Path(scratch.name) / "worker.log", "w")  # noqa: SIM115 (the worker's lifetime)
        process = subprocess.Popen(
            [python, str(WORKER), str(folder), worker_device],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        engine = cls(entry, process, scratch)
        ready = engine._answer()
        if not ready.get("ok"):
            engine.close()
            raise VoiceEngineError(f"voice engine {entry.name}: {ready.get('error')}")
        return engine

    def _answer(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            log = (Path(self.scratch.name) / "worker.log").read_text(errors="replace")
            last = (log.strip().splitlines() or ["no output"])[-1]
            return {"ok": False, "error": f"the worker stopped (exit code {code}): {last}"}
        return json.loads(line)

    def speak(
        self,
        text: str,
        seed: int,
        language: str = "",
        reference: Reference | None = None,
        limit_s: float = 0.0,
        preset: str = "",
    ) -> np.ndarray:
        """`text` in the reference's voice (Base) or the preset's (CustomVoice), at most `limit_s`
        seconds (codec frames, rounded up)."""
        if reference is None if self.entry.clones_voice else not preset:
            wanted = "a voice sample" if self.entry.clones_voice else "a preset"
            raise VoiceEngineError(f"voice engine {self.entry.name} speaks with {wanted}")
        languages = dict(self.entry.engine_languages)
        out = Path(self.scratch.name) / f"line-{self.spoken}.npy"
        self.spoken += 1
        request = {
            "text": text,
            "language": languages[language],
            "seed": int(seed),
            "max_new_tokens": max(2, math.ceil(limit_s * self.entry.frame_rate)),
            "out": str(out),
        }
        if reference is not None:
            request["reference"] = {
                "audio": str(reference.audio),
                "transcript": reference.transcript,
            }
        else:
            request["speaker"] = preset.lower()  # config.json's spk_id names are lower-case
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self._answer()
        if not answer.get("ok"):
            raise VoiceEngineError(f"voice engine {self.entry.name}: {answer.get('error')}")
        self.rate = int(answer["rate"])
        samples = np.load(out)
        out.unlink()
        return samples.astype(np.float32)

    def close(self) -> None:
        """End the worker (closing its input ends its loop) and remove the scratch folder."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.scratch.cleanup()
