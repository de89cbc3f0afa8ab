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
    """One DiT step, the VAE decode and the prompt's encoding, for MUSIC_S seconds of music."""
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
    return {"dit": dit_flops, "vae": vae_flops, "text": text_flops}
