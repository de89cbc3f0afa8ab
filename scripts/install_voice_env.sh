#!/usr/bin/env sh
# The voice environment: Qwen3-TTS (qwen-tts 0.1.1, Apache-2.0) with the versions it pins, beside
# the pipeline's .venv (which cannot hold them: qwen-tts pins transformers 4.57.3 and needs
# torchaudio, which has no build for the pipeline's torch 2.13). The pipeline runs
# resources/sound/qwen3_tts_worker.py and resources/tiny/qwen3_tts.py with its interpreter.
# Idempotent: a finished environment is left alone. VOICE_VENV overrides the folder;
# VOICE_TORCH_INDEX, an index of torch builds looked at besides PyPI (the CPU one, for
# deploy/Dockerfile's control image: its `+cpu` builds sort above PyPI's of the same version).
set -eu
cd "$(dirname "$0")/.."
VENV="${VOICE_VENV:-.venv-voice}"
STAMP="$VENV/.installed-qwen-tts-0.1.1"
[ -f "$STAMP" ] && exit 0
PYTHON="${PYTHON:-python3}"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install -q --upgrade pip
# torchaudio 2.11.0's library loads only against torch 2.11.0 (2.11.1's does not); PyPI's own
# index, not a machine-local find-links folder, so both come from the same build.
env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null "$PIP" install -q \
    ${VOICE_TORCH_INDEX:+--extra-index-url "$VOICE_TORCH_INDEX"} "torch==2.11.0" "torchaudio==2.11.0"
# qwen-tts without its demo's gradio; the rest of what it imports, at its pins.
"$PIP" install -q --no-deps "qwen-tts==0.1.1"
"$PIP" install -q "transformers==4.57.3" "accelerate==1.12.0" librosa soundfile sox einops onnxruntime
"$VENV/bin/python" -c "import qwen_tts, torchaudio" 2>/dev/null
touch "$STAMP"
