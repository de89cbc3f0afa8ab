"""The Qwen3-TTS voice engine's worker: one process that loads a checkpoint and speaks lines.

It loads either variant: Base (a voice cloned from a recorded sample) or CustomVoice (a stock
voice named by its speaker).

Run by the voice environment's interpreter (scripts/install_voice_env.sh builds it: qwen-tts 0.1.1
pins transformers 4.57.3 and needs torchaudio, neither of which the pipeline's environment can
hold), as `python qwen3_tts_worker.py FOLDER DEVICE SCRATCH`. It imports nothing from the
pipeline; what its libraries write to the temporary folder (onnxruntime's `.ses` session file at
import, torch's inductor folder) goes into SCRATCH, which the pipeline removes with it. The
protocol is one JSON object per line: on stdin a request

    {"text": ..., "language": "portuguese", "seed": N, "max_new_tokens": N,
     "reference": {"audio": WAV, "transcript": ...}, "out": FILE.npy}

(Base) or the same with `"speaker": NAME` in place of `reference` (CustomVoice),

and on stdout one answer per request, `{"ok": true, "rate": 24000, "samples": N}` once the float32
mono samples are in `out`, or `{"ok": false, "error": "..."}`. The first line on stdout says the
worker is ready (`{"ok": true, "ready": ...}`) or why it is not. Everything the libraries print
goes to stderr.

Base clones the voice in the model's in-context mode: the reference recording's codec codes and
its transcript precede the line, and its x-vector conditions the talker. CustomVoice puts the
named speaker's embedding where the x-vector would be (generate_custom_voice, no instruction).
Sampling is seeded per request (torch.manual_seed), on a fixed number of CPU threads, so a request
gives the same samples every time on the same device.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

# The protocol keeps the original stdout; everything else written to fd 1 (Python prints and C
# libraries alike) goes to stderr, so library chatter can never reach the protocol stream.
PROTOCOL = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr


VARIANTS = ("base", "custom_voice")


def answer(message: dict) -> None:
    PROTOCOL.write(json.dumps(message) + "\n")
    PROTOCOL.flush()


def load(folder: str, device: str):
    if not os.path.isfile(os.path.join(folder, "config.json")):  # before seconds of imports
        raise FileNotFoundError("no config.json there (not a Qwen3-TTS checkpoint folder)")
    import torch
    from qwen_tts import Qwen3TTSModel

    torch.set_num_threads(1)  # the same reduction order under any load
    model = Qwen3TTSModel.from_pretrained(
        folder, dtype=torch.float32 if device == "cpu" else torch.bfloat16, device_map=device
    )
    if model.model.tts_model_type not in VARIANTS:
        raise ValueError(
            f"{folder}: a {model.model.tts_model_type} checkpoint, not one of {', '.join(VARIANTS)}"
        )
    return model


def generate(model, request: dict):
    """The waveforms of one request: a stock speaker's (CustomVoice) or a cloned voice (Base),
    sampled from the request's seed (set after the voice prompt, just before generation)."""
    import soundfile
    import torch

    common = dict(
        text=request["text"],
        language=request["language"],
        max_new_tokens=int(request["max_new_tokens"]),
    )
    if "speaker" in request:
        torch.manual_seed(int(request["seed"]))
        return model.generate_custom_voice(speaker=request["speaker"], **common)
    reference = request["reference"]
    audio, rate = soundfile.read(reference["audio"], dtype="float32", always_2d=True)
    prompt = model.create_voice_clone_prompt(
        ref_audio=(audio.mean(axis=1), int(rate)), ref_text=reference["transcript"]
    )
    torch.manual_seed(int(request["seed"]))
    return model.generate_voice_clone(voice_clone_prompt=prompt, **common)


def speak(model, request: dict) -> dict:
    import numpy as np

    wavs, out_rate = generate(model, request)
    samples = np.asarray(wavs[0], dtype=np.float32)
    tmp = request["out"] + ".part.npy"
    np.save(tmp, samples)
    os.replace(tmp, request["out"])
    return {"ok": True, "rate": int(out_rate), "samples": int(samples.shape[0])}


def use_as_temporary_folder(folder: str) -> None:
    """Make `folder` the temporary folder of this process, its libraries' native code included
    (putenv: onnxruntime reads TMPDIR from the C environment), before they are imported."""
    import tempfile

    os.putenv("TMPDIR", folder)
    tempfile.tempdir = folder


def main() -> None:
    if len(sys.argv) != 4:
        answer({"ok": False, "error": "usage: qwen3_tts_worker.py FOLDER DEVICE SCRATCH"})
        return
    use_as_temporary_folder(sys.argv[3])
    try:
        model = load(sys.argv[1], sys.argv[2])
    except Exception as error:  # the one line the pipeline shows
        traceback.print_exc()
        answer({"ok": False, "error": f"cannot load {sys.argv[1]}: {error}"})
        return
    speakers = model.get_supported_speakers() or []
    languages = sorted(model.model.get_supported_languages())
    answer({"ok": True, "ready": languages, "speakers": speakers})
    for line in sys.stdin:
        try:
            answer(speak(model, json.loads(line)))
        except Exception as error:
            traceback.print_exc()
            answer({"ok": False, "error": f"{type(error).__name__}: {error}"})


if __name__ == "__main__":
    main()
