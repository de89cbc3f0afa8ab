"""Tiny narration-QC models built in code: Whisper (transcription) and WavLM x-vectors (voice).

The real classes with small configs and fixed random weights, saved with their processors so
the model store loads them as it loads the published checkpoints. Their scores mean nothing;
the code path (features, generate, decode, embeddings) is the production one.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    GenerationConfig,
    Wav2Vec2FeatureExtractor,
    WavLMConfig,
    WavLMForXVector,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperTokenizer,
)

from resources.tiny.text import _byte_level_alphabet

SEED = 0
_SPECIALS = (
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|pt|>",
    "<|transcribe|>",
    "<|notimestamps|>",
)


def build_tiny_whisper(folder: Path) -> None:
    """A tiny multilingual Whisper that transcribes Portuguese (`<|pt|>`), with its processor."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {c: i for i, c in enumerate(_byte_level_alphabet())}
    for token in _SPECIALS:
        vocab[token] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    end = "<|endoftext|>"
    tokenizer = WhisperTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        unk_token=end,
        bos_token=end,
        eos_token=end,
        pad_token=end,
        additional_special_tokens=list(_SPECIALS[1:]),
    )
    tokenizer.save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    config = WhisperConfig(
        vocab_size=len(vocab),
        num_mel_bins=80,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        d_model=16,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_target_positions=448,
        decoder_start_token_id=vocab["<|startoftranscript|>"],
        eos_token_id=vocab[end],
        pad_token_id=vocab[end],
        bos_token_id=vocab[end],
    )
    torch.manual_seed(SEED)
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        no_timestamps_token_id=vocab["<|notimestamps|>"],
        lang_to_id={"<|pt|>": vocab["<|pt|>"]},
        task_to_id={"transcribe": vocab["<|transcribe|>"]},
        is_multilingual=True,
    )
    model.save_pretrained(folder)


def build_tiny_wavlm_xvector(folder: Path) -> None:
    """A tiny WavLM with an x-vector head, and its feature extractor (16 kHz).

    Tiny widths on WavLM base-plus's own feature encoder (seven convolutions, 320x down to 50
    frames a second): with fewer of them the tiny model saw 800 frames a second, and its
    relative-position bias, quadratic in frames, took ~1 s for a 3 s line on one CPU core.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = WavLMConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        tdnn_dim=(16, 16),
        tdnn_kernel=(3, 1),
        tdnn_dilation=(1, 1),
        xvector_output_dim=16,
        num_buckets=16,
        max_bucket_distance=64,
    )
    torch.manual_seed(SEED)
    WavLMForXVector(config).eval().save_pretrained(folder)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16_000, do_normalize=True, return_attention_mask=True
    ).save_pretrained(folder)
