"""FLOPs of the narration: the voice engine, the recogniser and the speaker model, counted.

Whisper large-v3-turbo and WavLM base-plus (x-vector) are built full size on the meta device
from their published configs (as the identity backbones are, resources/qc/flops.py) and one
forward pass is counted with torch's FlopCounterMode.

The voice engine, Qwen3-TTS 1.7B (resources/domain/architectures.py), is built the same way but
in the voice environment, whose qwen-tts classes the pipeline cannot import: one subprocess
(resources/sound/qwen3_tts_flops.py) counts every line shape a quote needs. A line costs what
its autoregressive generation runs: the talker over its prompt (the chat markers and codec
prefix, the text, and for a cloned voice the sample's transcript and codec frames) and the frames
it speaks at 12.5 a second; the code predictor's 15 residual codes for each frame; the text
projection for each text token; the speech tokenizer's decoder over the frames. Not counted: the
speaker encoder and the codec's encoder, which a cloned voice runs once over its sample.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.flop_counter import FlopCounterMode

if TYPE_CHECKING:
    from transformers import WhisperConfig

WHISPER_FRAMES = 3000  # Whisper hears 30 s windows: 3000 mel frames, 1500 encoder positions
# The reference sizes each model is counted at once (seeded in resources/quote/flop_counts.json);
# a line is quoted by scaling: decoder positions and seconds of audio.
WHISPER_TOKENS = 64  # decoder positions: a line of up to ~190 characters (3 characters a token)
SPEAKER_S = 10.0
# A line's prompt to the talker besides its text: "<|im_start|>assistant\n" (3 positions), the
# codec prefix (think, think-bos, language, think-eos, speaker, pad, bos: 7), "<|im_end|>\n" and
# the closing "<|im_start|>assistant\n" (5).
VOICE_PROMPT_POSITIONS = 15
TEXT_CHARS_PER_TOKEN = 3  # Qwen2's BPE over Portuguese text, as for Whisper above
COUNTER = Path(__file__).with_name("qwen3_tts_flops.py")


@dataclass(frozen=True)
class VoiceShape:
    """What one line's synthesis runs: talker positions, text tokens, codec frames."""

    positions: int
    text_tokens: int
    frames: int


def voice_shape(
    line: str, language: str, frame_rate: float, transcript: str | None = None
) -> VoiceShape:
    """A line (as the voice says it: `Brief.spoken`) spoken at the normal rate
    (resources/domain/speech.py), with a cloned voice's transcript and sample (its length
    estimated from the transcript, its figures in words, at the same rate)."""
    from resources.domain.speech import speech_seconds
    from resources.domain.spoken import said

    frames = math.ceil(speech_seconds(line, language) * frame_rate)
    tokens = math.ceil(len(line) / TEXT_CHARS_PER_TOKEN)
    positions = VOICE_PROMPT_POSITIONS + tokens + frames
    if transcript:
        told = math.ceil(len(transcript) / TEXT_CHARS_PER_TOKEN)
        tokens += told
        told_s = speech_seconds(said(transcript, language), language)
        positions += told + math.ceil(told_s * frame_rate)
    return VoiceShape(positions, tokens, frames)


def voice_counts(shapes: list[VoiceShape], python: str = "") -> list[dict[str, int]]:
    """Each shape's FLOPs through Qwen3-TTS 1.7B, counted on the meta device in one subprocess
    of the voice environment's interpreter (`python`, else the repository's .venv-voice)."""
    from resources.domain.architectures import QWEN3_TTS_DECODER, QWEN3_TTS_TALKER
    from resources.models.model_store import ModelStore

    python = ModelStore(voice_python=python).voice_interpreter()
    request = {
        "talker": QWEN3_TTS_TALKER.config,
        "decoder": QWEN3_TTS_DECODER.config,
        "shapes": [[s.positions, s.frames] for s in shapes],
    }
    done = subprocess.run(
        [python, str(COUNTER)], input=json.dumps(request), capture_output=True, text=True
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"Qwen3-TTS FLOPs could not be counted with {python}: {last}")
    found = json.loads(done.stdout)
    counted = []
    for shape, each in zip(shapes, found["shapes"], strict=True):
        parts = {
            "talker": each["talker"],
            "text_projection": found["text_projection"] * shape.text_tokens,
            "predictor": found["predictor"] * shape.frames,
            "decoder": each["decoder"],
        }
        counted.append({"flops": sum(parts.values()), **parts})
    return counted


def whisper_large_v3_turbo_config() -> WhisperConfig:
    from transformers import WhisperConfig

    return WhisperConfig(
        vocab_size=51866,
        num_mel_bins=128,
        d_model=1280,
        encoder_layers=32,
        decoder_layers=4,
        encoder_attention_heads=20,
        decoder_attention_heads=20,
        encoder_ffn_dim=5120,
        decoder_ffn_dim=5120,
    )


def _count(fn) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def counts() -> dict[str, int]:
    """The narration checks at their reference sizes: what the quote's FLOP cache stores."""
    return {
        "whisper": transcription_flops(WHISPER_TOKENS),
        "wavlm": speaker_flops(SPEAKER_S),
    }


@cache
def transcription_flops(tokens: int) -> int:
    """One 30 s window through Whisper's encoder and `tokens` decoder positions."""
    from transformers import WhisperForConditionalGeneration

    with torch.device("meta"):
        model = WhisperForConditionalGeneration(whisper_large_v3_turbo_config()).eval()
        features = torch.empty(1, 128, WHISPER_FRAMES)
        ids = torch.zeros(1, tokens, dtype=torch.long)
    return _count(lambda: model(input_features=features, decoder_input_ids=ids))


@cache
def speaker_flops(seconds: float) -> int:
    """`seconds` of 16 kHz audio through WavLM base-plus with its x-vector head."""
    from transformers import WavLMConfig, WavLMForXVector

    with torch.device("meta"):
        model = WavLMForXVector(WavLMConfig()).eval()
        audio = torch.empty(1, max(1, int(seconds * 16_000)))
    return _count(lambda: model(input_values=audio))


# Generated music (ACE-Step 1.5 through AceStepPipeline), counted on the meta device at a
# reference length and scaled by seconds. The DiT is diffusers' default AceStepTransformer1DModel
# config (2048 wide, 24 layers: the 2B DiT; the XL turbo checkpoint's own config could not be read
# offline, so this is a lower bound for it); the VAE is Oobleck at Stable Audio's widths with
# ACE-Step 1.5's 1920-sample hop at 48 kHz (25 latent frames a second); the text encoder is
# Qwen3-Embedding-0.6B's architecture (Qwen3, 1024 wide, 28 layers) over 256 tokens.
MUSIC_S = 10.0
MUSIC_LATENTS_PER_S = 25
MUSIC_TEXT_TOKENS = 256


def music_counts() -> dict[str, int]:
    """One DiT step, the VAE decode and the prompt's encoding, for MUSIC_S seconds of music, and
    their sum ("flops": what the quote's FLOP cache stores)."""
    from diffusers import AceStepTransformer1DModel, AutoencoderOobleck
    from transformers import Qwen3Config, Qwen3Model

    frames = int(MUSIC_S * MUSIC_LATENTS_PER_S)
    with torch.device("meta"):
        dit = AceStepTransformer1DModel().eval()
        acoustic = dit.config.audio_acoustic_hidden_dim
        latents = torch.empty(1, frames, acoustic)
        context = torch.empty(1, frames, dit.config.in_channels - acoustic)
        conditions = torch.empty(1, MUSIC_TEXT_TOKENS, dit.config.hidden_size)
        t = torch.empty(1)
        vae = AutoencoderOobleck(downsampling_ratios=[2, 4, 4, 6, 10], sampling_rate=48_000).eval()
        z = torch.empty(1, vae.config.decoder_input_channels, frames)
        text = Qwen3Model(
            Qwen3Config(
                hidden_size=1024,
                intermediate_size=3072,
                num_hidden_layers=28,
                num_attention_heads=16,
                num_key_value_heads=8,
                head_dim=128,
                vocab_size=151669,
            )
        ).eval()
        ids = torch.zeros(1, MUSIC_TEXT_TOKENS, dtype=torch.long)
    dit_flops = _count(
        lambda: dit(
            hidden_states=latents,
            timestep=t,
            timestep_r=t,
            encoder_hidden_states=conditions,
            context_latents=context,
        )
    )
    vae_flops = _count(lambda: vae.decode(z))
    text_flops = _count(lambda: text(input_ids=ids))
    return {
        "flops": dit_flops + vae_flops + text_flops,
        "dit": dit_flops,
        "vae": vae_flops,
        "text": text_flops,
    }
