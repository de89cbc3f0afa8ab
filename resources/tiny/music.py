"""A tiny ACE-Step 1.5 (text to music) built in code: diffusers' AceStepPipeline, random weights.

The same components as the published `ACE-Step/acestep-v15-xl-turbo-diffusers` folder: the
Oobleck VAE (48 kHz stereo, 1920 samples a latent frame: 25 latent frames a second, as 1.5's),
a Qwen3 text encoder with a byte-level tokenizer, the DiT (`AceStepTransformer1DModel`), the
condition encoder and the flow-matching Euler scheduler. Sizes are the smallest the code accepts.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AceStepPipeline,
    AceStepTransformer1DModel,
    AutoencoderOobleck,
    FlowMatchEulerDiscreteScheduler,
)
from diffusers.pipelines.ace_step import AceStepConditionEncoder
from transformers import Qwen3Config, Qwen3Model

from resources.tiny.text import byte_level_tokenizer

SEED = 0
HIDDEN = 32
ACOUSTIC = 8  # latent channels of the VAE; the DiT reads three times as many (latents, context)


def build_tiny_ace_step(folder: Path) -> None:
    """Write a tiny AceStepPipeline to `folder` (fixed weights, seed 0)."""
    tokenizer = byte_level_tokenizer()
    attention = dict(num_attention_heads=4, num_key_value_heads=2, head_dim=8, rope_theta=1e4)
    torch.manual_seed(SEED)
    text_encoder = Qwen3Model(
        Qwen3Config(
            hidden_size=HIDDEN,
            intermediate_size=2 * HIDDEN,
            num_hidden_layers=2,
            vocab_size=len(tokenizer),
            max_position_embeddings=4096,
            **{k: v for k, v in attention.items() if k != "rope_theta"},
        )
    )
    torch.manual_seed(SEED)
    transformer = AceStepTransformer1DModel(
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=2,
        in_channels=3 * ACOUSTIC,
        audio_acoustic_hidden_dim=ACOUSTIC,
        patch_size=2,
        sliding_window=16,
        **attention,
    )
    torch.manual_seed(SEED)
    condition_encoder = AceStepConditionEncoder(
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        text_hidden_dim=HIDDEN,
        timbre_hidden_dim=ACOUSTIC,
        num_lyric_encoder_hidden_layers=2,
        num_timbre_encoder_hidden_layers=2,
        sliding_window=16,
        **attention,
    )
    torch.manual_seed(SEED)
    vae = AutoencoderOobleck(
        encoder_hidden_size=6,
        downsampling_ratios=[2, 4, 4, 6, 10],  # 1920: 25 latent frames a second at 48 kHz
        decoder_channels=6,
        decoder_input_channels=ACOUSTIC,
        audio_channels=2,
        channel_multiples=[1, 1, 2, 2, 2],
        sampling_rate=48_000,
    )
    AceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
    ).save_pretrained(folder)
