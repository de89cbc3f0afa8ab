"""A tiny VITS text-to-speech model built in code: the voice engine's architecture, random weights.

The vocabulary is the Portuguese alphabet with its accents, digits and punctuation, so any pt-BR
line tokenizes; the speaking rate is set so a tiny line lasts about as long as the spoken one
would (about 13 characters a second), which keeps shot lengths timed by their lines realistic.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import VitsConfig, VitsModel, VitsTokenizer

SEED = 0
_CHARACTERS = " abcdefghijklmnopqrstuvwxyzáàâãçéêíóôõúü0123456789.,;:!?'-\""


def build_tiny_voice(folder: Path) -> None:
    """Write a tiny VitsModel and its VitsTokenizer to `folder` (fixed weights, seed 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<pad>": 0, "<unk>": 1, **{c: i + 2 for i, c in enumerate(_CHARACTERS)}}
    vocab_file = folder / "vocab.json"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False, sort_keys=True))
    tokenizer = VitsTokenizer(str(vocab_file), add_blank=True, phonemize=False, normalize=True)
    tokenizer.save_pretrained(folder)
    config = VitsConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        ffn_dim=32,
        flow_size=16,
        spectrogram_bins=16,
        prior_encoder_num_flows=2,
        prior_encoder_num_wavenet_layers=2,
        posterior_encoder_num_wavenet_layers=2,
        duration_predictor_num_flows=2,
        duration_predictor_filter_channels=16,
        upsample_initial_channel=32,
        upsample_rates=[8, 8, 4],
        upsample_kernel_sizes=[16, 16, 8],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        sampling_rate=16000,
        # 256 samples per frame at 16 kHz: 16 ms, two tokens a character (blanks between them).
        # 0.8 makes the random duration predictor speak about 13 characters a second, near
        # read Portuguese, so tiny lines fit the shots the brief check lets them into.
        speaking_rate=0.8,
        # Little noise on the sampled durations: a tiny line's length follows its text.
        noise_scale_duration=0.1,
    )
    torch.manual_seed(SEED)
    VitsModel(config).eval().save_pretrained(folder)
