"""A tiny Qwen3-TTS (12 Hz) built in code: the architecture, random weights, in two variants.

* `base` (voice cloning), as Qwen/Qwen3-TTS-12Hz-1.7B-Base: a speaker encoder turns a recorded
  sample into the x-vector that conditions the talker.
* `custom_voice` (stock voices), as Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice: no speaker encoder; each
  stock voice is a row of the talker's codec embedding, named in `talker_config.spk_id`
  (lower-case names, as published), with `spk_is_dialect` saying which speak a Chinese dialect.

Run by the voice environment's interpreter (scripts/install_voice_env.sh), not imported by the
pipeline: qwen-tts pins transformers 4.57 and torchaudio, which the pipeline's environment does not
have. `python resources/tiny/qwen3_tts.py FOLDER [base|custom_voice] [FOLDER VARIANT ...]` writes,
in each folder, the layout the published checkpoints use (config.json, model.safetensors, the text
tokenizer, generate_config.json and speech_tokenizer/ with the 12 Hz codec), so
`Qwen3TTSModel.from_pretrained(FOLDER)` loads it exactly as it loads the published checkpoint of
that variant. Several folders are built by one process: qwen-tts takes seconds to import.

Sizes are the smallest the code accepts: 4 code groups of 32 codes (the published model: 16 of
2048), hidden size 32. The codec's special ids sit in the 1024 ids above the codebook, where the
talker's generate suppresses them, as in the published vocabulary (2048 codes + 1024 specials).
The codebooks (zeros in a fresh codec) get seeded random entries, so codes decode to sound.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from qwen_tts.core import Qwen3TTSTokenizerV2Config, Qwen3TTSTokenizerV2Model
from qwen_tts.core.models import (
    Qwen3TTSConfig,
    Qwen3TTSForConditionalGeneration,
    Qwen3TTSProcessor,
)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import EncodecFeatureExtractor, Qwen2TokenizerFast

SEED = 0
HIDDEN = 32
CODE_GROUPS = 4
CODEBOOK = 32
SAMPLE_RATE = 24000
# Wider than training's 0.02: random logits then depend on the text and the voice prompt instead
# of being near-uniform (where the seeded sampler alone would pick the codes).
INIT = 0.5
SPEAKER_SCALE = 0.1  # the speaker encoder's share of INIT: its x-vector otherwise saturates
# CustomVoice: each stock voice's embedding row drawn at 6x INIT. At 1x, five of the nine speakers
# gave byte-identical samples for one text and seed (the seeded sampler outweighed a speaker's one
# prompt position; found by a test); at 6x the nine differ.
SPEAKER_ROW_SCALE = 6.0
# The speaker encoder's fields that its config accepts (save_pretrained adds `model_type`, which
# the published config.json does not carry and the config class refuses on load).
_SPEAKER_FIELDS = (
    "mel_dim",
    "enc_dim",
    "enc_channels",
    "enc_kernel_sizes",
    "enc_dilations",
    "enc_attention_channels",
    "enc_res2net_scale",
    "enc_se_channels",
    "sample_rate",
)
# Sampling as the published generate_config.json sets it; max_new_tokens comes with each request.
GENERATE = {
    "do_sample": True,
    "top_k": 50,
    "top_p": 1.0,
    "temperature": 0.9,
    "repetition_penalty": 1.05,
    "subtalker_dosample": True,
    "subtalker_top_k": 50,
    "subtalker_top_p": 1.0,
    "subtalker_temperature": 0.9,
    "max_new_tokens": 2048,
}
# The published CustomVoice speakers (config.json's spk_id keys) and the dialect each speaks when
# asked for Chinese; their ids here sit in the specials above the codebook, as published.
SPEAKERS = ("vivian", "serena", "uncle_fu", "dylan", "eric", "ryan", "aiden", "ono_anna", "sohee")
DIALECTS = {"dylan": "beijing_dialect", "eric": "sichuan_dialect"}
VARIANTS = ("base", "custom_voice")


def text_tokenizer() -> Qwen2TokenizerFast:
    """A byte-level tokenizer with no merges (every UTF-8 byte a token) and the chat markers."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    core = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=core,
        unk_token=None,
        bos_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    return tokenizer


def talker_config(text_vocab: int, variant: str = "base") -> dict:
    special = {  # the codec's control ids, above the codebook
        "codec_eos_token_id": CODEBOOK,
        "codec_think_id": CODEBOOK + 1,
        "codec_nothink_id": CODEBOOK + 2,
        "codec_think_bos_id": CODEBOOK + 3,
        "codec_think_eos_id": CODEBOOK + 4,
        "codec_pad_id": CODEBOOK + 5,
        "codec_bos_id": CODEBOOK + 6,
    }
    languages = ["portuguese", "english", "spanish"]
    speakers: dict = {}
    if variant == "custom_voice":
        languages += ["chinese", *sorted(set(DIALECTS.values()))]
        speakers = {name: CODEBOOK + 16 + i for i, name in enumerate(SPEAKERS)}
    return dict(
        code_predictor_config=dict(
            vocab_size=CODEBOOK,
            hidden_size=HIDDEN,
            intermediate_size=2 * HIDDEN,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            num_code_groups=CODE_GROUPS,
            max_position_embeddings=256,
            initializer_range=INIT,
        ),
        vocab_size=CODEBOOK + 1024,
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        num_code_groups=CODE_GROUPS,
        text_hidden_size=HIDDEN,
        text_vocab_size=text_vocab,
        max_position_embeddings=4096,
        initializer_range=INIT,
        spk_id=speakers,
        spk_is_dialect={name: DIALECTS.get(name, False) for name in speakers},
        codec_language_id={name: CODEBOOK + 7 + i for i, name in enumerate(languages)},
        rope_scaling={"rope_type": "default", "mrope_section": [4, 2, 2], "interleaved": True},
        **special,
    )


def model_config(tokenizer: Qwen2TokenizerFast, variant: str = "base") -> Qwen3TTSConfig:
    n = len(tokenizer)  # the text-only ids (pad, bos, eos of speech) follow the tokenizer's
    return Qwen3TTSConfig(
        talker_config=talker_config(n + 3, variant),
        speaker_encoder_config=dict(
            mel_dim=128,  # extract_speaker_embedding computes 128 mel bands
            enc_dim=HIDDEN,  # the x-vector enters the talker's input
            enc_channels=[16, 16, 16, 16, 48],
            enc_kernel_sizes=[5, 3, 3, 3, 1],
            enc_dilations=[1, 2, 3, 4, 1],
            enc_attention_channels=8,
            enc_res2net_scale=2,
            enc_se_channels=8,
            sample_rate=SAMPLE_RATE,
        ),
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size="tiny",
        tts_model_type=variant,
        im_start_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
        im_end_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        tts_pad_token_id=n,
        tts_bos_token_id=n + 1,
        tts_eos_token_id=n + 2,
        initializer_range=INIT,
    )


def codec_config() -> Qwen3TTSTokenizerV2Config:
    """The 12 Hz codec: a Mimi encoder (960x down, then 2x) and the causal decoder (1920x up)."""
    return Qwen3TTSTokenizerV2Config(
        encoder_config=dict(
            hidden_size=16,
            num_filters=4,
            num_residual_layers=1,
            upsampling_ratios=[8, 6, 5, 4],
            upsample_groups=16,
            codebook_size=CODEBOOK,
            codebook_dim=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=8,
            intermediate_size=32,
            num_quantizers=CODE_GROUPS,
            num_semantic_quantizers=1,
            sliding_window=16,
            vector_quantization_hidden_dimension=8,
            frame_rate=12.5,
            sampling_rate=SAMPLE_RATE,
        ),
        decoder_config=dict(
            codebook_size=CODEBOOK,
            codebook_dim=16,
            hidden_size=16,
            latent_dim=16,
            num_attention_heads=2,
            num_key_value_heads=2,
            intermediate_size=32,
            num_hidden_layers=1,
            num_quantizers=CODE_GROUPS,
            decoder_dim=32,
            sliding_window=8,
            # Full residual scale and a wider init than training's: random weights then decode
            # to a waveform at speech level (about -20 dBFS) instead of near-silence.
            layer_scale_initial_scale=1.0,
            initializer_range=0.12,
        ),
        encoder_valid_num_quantizers=CODE_GROUPS,
    )


def build(folder: Path, variant: str = "base") -> None:
    """Write the tiny checkpoint of `variant` to `folder` (fixed weights: seeds 0 and 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = text_tokenizer()
    Qwen3TTSProcessor(tokenizer=tokenizer).save_pretrained(folder)
    torch.manual_seed(SEED)
    model = Qwen3TTSForConditionalGeneration(model_config(tokenizer, variant)).eval()
    with torch.no_grad():
        if model.speaker_encoder is not None:  # Base: the x-vector at about unit scale
            for weight in model.speaker_encoder.parameters():
                if weight.dim() > 1:
                    weight.mul_(SPEAKER_SCALE)
        rows = model.talker.get_input_embeddings().weight
        for row in model.config.talker_config.spk_id.values():  # CustomVoice's stock voices
            rows[row].mul_(SPEAKER_ROW_SCALE)
    model.save_pretrained(folder)
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    speaker = config["speaker_encoder_config"]
    config["speaker_encoder_config"] = {k: speaker[k] for k in _SPEAKER_FIELDS}
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    (folder / "generate_config.json").write_text(
        json.dumps(GENERATE, indent=2, sort_keys=True), encoding="utf-8"
    )
    torch.manual_seed(SEED + 1)
    codec = Qwen3TTSTokenizerV2Model(codec_config()).eval()
    with torch.no_grad():
        for name, tensor in [*codec.named_parameters(), *codec.named_buffers()]:
            if name.endswith(("embedding_sum", "embed_sum")):  # the decoder's, Mimi's
                tensor.copy_(torch.randn_like(tensor))
            elif name.endswith(("cluster_usage", "initialized")):
                tensor.fill_(1.0)
    codec.save_pretrained(folder / "speech_tokenizer")
    EncodecFeatureExtractor(
        feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, return_attention_mask=True
    ).save_pretrained(folder / "speech_tokenizer")


if __name__ == "__main__":
    args = sys.argv[1:] if len(sys.argv) != 2 else [sys.argv[1], "base"]
    pairs = list(zip(args[::2], args[1::2], strict=False))
    if not args or len(args) % 2 or any(variant not in VARIANTS for _, variant in pairs):
        sys.exit(f"usage: qwen3_tts.py FOLDER [{'|'.join(VARIANTS)}] [FOLDER VARIANT ...]")
    for folder, variant in pairs:  # one process: qwen-tts is imported once
        build(Path(folder), variant)
