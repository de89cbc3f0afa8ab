"""The voice engine: one line of text to a mono waveform, seeded.

Qwen3-TTS speaks in a worker process in the voice environment (resources/sound/qwen3_tts_worker.py),
fed one JSON request a line: the Base checkpoint clones a recorded sample, the CustomVoice
checkpoint speaks a stock voice (a preset). The tiny and production profiles load the same classes
from a folder (the model store's); only the weights differ. The same line, voice, seed and limit
give the same samples, whatever the worker spoke before (each request seeds its own sampling).

A worker on the CPU outlives its engine: `close()` keeps it idle for the next `load` of the same
checkpoint in this process (a later narration), and it ends when the process exits; starting one
(the voice environment's torch and the checkpoint) costs seconds a line does not. A GPU worker
ends at `close()`, so that its memory is free for the stages after narration. A worker that
answered an error is never reused.
"""

from __future__ import annotations

import atexit
import json
import math
import multiprocessing.util
import os
import subprocess
import tempfile
import threading
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
class Worker:
    """One worker process, its scratch folder (its log, the lines' files) and what it loaded."""

    process: subprocess.Popen
    scratch: tempfile.TemporaryDirectory
    key: tuple | None  # (interpreter, checkpoint folder and its files, device): what it serves
    spoken: int = 0
    busy: bool = False  # a request sent, its answer not read yet
    failed: bool = False  # it answered an error (or never became ready): never reused

    def end(self) -> None:
        """End the process (closing its input ends its loop) and remove the scratch folder."""
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


_IDLE: dict[tuple, Worker] = {}  # CPU workers no engine holds, by key (module docstring)
_IDLE_LOCK = threading.Lock()


def end_idle_workers() -> None:
    """End every idle worker of this process (at exit; a test that wants a fresh one)."""
    with _IDLE_LOCK:
        idle = list(_IDLE.values())
        _IDLE.clear()
    for worker in idle:
        worker.end()


def _forget_idle_workers() -> None:
    """In a forked child: the parent's workers are the parent's (their pipes are shared)."""
    _IDLE.clear()


atexit.register(end_idle_workers)
os.register_at_fork(after_in_child=_forget_idle_workers)
_ENDS_AT_EXIT: set[int] = set()  # the processes that registered `end_idle_workers` with Finalize


def _end_idle_workers_when_this_process_ends() -> None:
    """Also end the idle workers in a process that multiprocessing started, which leaves by
    os._exit (a Dagster step forked from the job's forkserver): atexit never runs there, and
    each idle worker's scratch folder stayed in the temporary folder. multiprocessing runs its
    own finalizers first; they are registered in the process itself (a child clears those it
    inherited), the first time a worker goes idle in it."""
    if os.getpid() in _ENDS_AT_EXIT:
        return
    _ENDS_AT_EXIT.add(os.getpid())
    multiprocessing.util.Finalize(None, end_idle_workers, exitpriority=0)


def _worker_key(folder: Path, device: str, python: str) -> tuple:
    """What a worker serves: the interpreter, the checkpoint folder (each file's path, size and
    modification time, so a folder rebuilt in place is loaded again) and the device."""
    root = Path(folder).resolve()
    files = tuple(
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    )
    return (python, str(root), files, device)


@dataclass
class VoiceEngine:
    """Qwen3-TTS speaking in its worker process; `close()` releases the worker."""

    entry: VoiceModel
    worker: Worker
    rate: int = 0
    released: bool = field(default=False)  # closed: the worker is no longer this engine's

    @classmethod
    def load(cls, entry: VoiceModel, folder: Path, device: str, python: str) -> VoiceEngine:
        """A ready worker for `entry`'s checkpoint in `folder`: an idle one of this process that
        loaded the same files on the same device, else one started now."""
        gpu = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        worker_device = ("cuda:0" if device in ("auto", "cuda") else device) if gpu else "cpu"
        key = _worker_key(folder, worker_device, python) if Path(folder).is_dir() else None
        with _IDLE_LOCK:
            idle = _IDLE.pop(key, None) if key is not None else None
        if idle is not None and idle.process.poll() is None:
            return cls(entry, idle)
        if idle is not None:  # it stopped while idle
            idle.end()
        scratch = tempfile.TemporaryDirectory(prefix="voice-")
        log = open(Path(scratch.name) / "worker.log", "w", encoding="utf-8")  # noqa: SIM115 (the worker's lifetime)
        process = subprocess.Popen(
            # The scratch folder is its temporary folder too (the worker's docstring).
            [python, str(WORKER), str(folder), worker_device, scratch.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        engine = cls(entry, Worker(process, scratch, key))
        ready = engine._answer()
        if not ready.get("ok"):
            engine.worker.failed = True
            engine.close()
            raise VoiceEngineError(f"voice engine {entry.name}: {ready.get('error')}")
        return engine

    def _answer(self) -> dict:
        process = self.worker.process
        line = process.stdout.readline()
        if not line:
            code = process.wait()
            log = (Path(self.worker.scratch.name) / "worker.log").read_text(
                encoding="utf-8", errors="replace"
            )
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
        if self.released:
            raise VoiceEngineError(f"voice engine {self.entry.name}: closed")
        if reference is None if self.entry.clones_voice else not preset:
            wanted = "a voice sample" if self.entry.clones_voice else "a preset"
            raise VoiceEngineError(f"voice engine {self.entry.name} speaks with {wanted}")
        languages = dict(self.entry.engine_languages)
        out = Path(self.worker.scratch.name) / f"line-{self.worker.spoken}.npy"
        self.worker.spoken += 1
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
        self.worker.busy = True  # a request cut short leaves its answer unread: never reused
        self.worker.process.stdin.write(json.dumps(request) + "\n")
        self.worker.process.stdin.flush()
        answer = self._answer()
        self.worker.busy = False
        if not answer.get("ok"):
            self.worker.failed = True
            raise VoiceEngineError(f"voice engine {self.entry.name}: {answer.get('error')}")
        self.rate = int(answer["rate"])
        samples = np.load(out)
        out.unlink()
        return samples.astype(np.float32)

    def close(self) -> None:
        """Release the worker: kept idle for this process's next `load` when it runs on the CPU
        between requests and never answered with an error, else ended (module docstring)."""
        if self.released:
            return
        self.released, worker = True, self.worker
        keep = not (worker.busy or worker.failed) and worker.key is not None
        keep = keep and worker.key[-1] == "cpu"
        if keep and worker.process.poll() is None:
            with _IDLE_LOCK:
                if worker.key not in _IDLE:
                    _IDLE[worker.key] = worker
                    _end_idle_workers_when_this_process_ends()
                    return
        worker.end()
