"""FLOPs of the narration: the voice engine, the recogniser and the speaker model, counted.

Whisper large-v3-turbo and WavLM base-plus (x-vector) are built full size on the meta device
from their published configs (as the identity backbones are, resources/qc/flops.py) and one
forward pass is counted with torch's FlopCounterMode. VITS samples its durations, which the
meta device cannot do: it is counted on the CPU at its published full size (facebook/mms-tts
configs, transformers' VitsConfig defaults) with fixed random weights, seed 0.
"""

from __future__ import annotations

from functools import cache

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    VitsConfig,
    VitsModel,
    WavLMConfig,
    WavLMForXVector,
    WhisperConfig,
    WhisperForConditionalGeneration,
)

WHISPER_FRAMES = 3000  # Whisper hears 30 s windows: 3000 mel frames, 1500 encoder positions
# The reference sizes each model is counted at once (seeded in resources/quote/flop_counts.json);
# a line is quoted by scaling: decoder positions, seconds of audio and characters.
WHISPER_TOKENS = 64  # decoder positions: a line of up to ~190 characters (3 characters a token)
SPEAKER_S = 10.0
VITS_CHARACTERS = 40


def whisper_large_v3_turbo_config() -> WhisperConfig:
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
    """Each model at its reference size: what the quote's FLOP cache stores."""
    return {
        "whisper": transcription_flops(WHISPER_TOKENS),
        "wavlm": speaker_flops(SPEAKER_S),
        "vits": synthesis_flops(VITS_CHARACTERS),
    }


@cache
def transcription_flops(tokens: int) -> int:
    """One 30 s window through Whisper's encoder and `tokens` decoder positions."""
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(whisper_large_v3_turbo_config()).eval()
        features = torch.empty(1, 128, WHISPER_FRAMES)
        ids = torch.zeros(1, tokens, dtype=torch.long)
    return _count(lambda: model(input_features=features, decoder_input_ids=ids))


@cache
def speaker_flops(seconds: float) -> int:
    """`seconds` of 16 kHz audio through WavLM base-plus with its x-vector head."""
    with torch.device("meta"):
        model = WavLMForXVector(WavLMConfig()).eval()
        audio = torch.empty(1, max(1, int(seconds * 16_000)))
    return _count(lambda: model(input_values=audio))


@cache
def synthesis_flops(characters: int) -> int:
    """A line of `characters` characters through VITS at its published size (CPU, seed 0)."""
    torch.manual_seed(0)
    model = VitsModel(VitsConfig()).eval()
    ids = torch.randint(1, VitsConfig().vocab_size, (1, 2 * characters + 1))
    torch.manual_seed(0)
    return _count(lambda: model(input_ids=ids))
