"""Published configs of the full-size networks every registry model runs, as data.

The FLOP counter (resources/quote/flops.py) builds these architectures on the meta device, so a
quote counts the real network at the shot's exact shape without loading a byte of weights. Each
entry names the Hub `config.json` its numbers come from; keys are the constructor arguments of
the diffusers / transformers class named beside them (checked against diffusers 0.42 and
transformers 5.x). Where a published config equals the class's defaults, the dict is empty and
the source says so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from resources.domain.registry import REFERENCE_MODELS, VIDEO_MODELS


@dataclass(frozen=True)
class Network:
    """One network: the class that builds it, its published config, and where that is from."""

    library: str  # "diffusers" | "transformers" | "spandrel"
    cls: str
    config: dict[str, Any]
    source: str


@dataclass(frozen=True)
class TextEncoder:
    """A text encoder and the number of tokens the pipeline feeds it per prompt."""

    network: Network
    tokens: int


@dataclass(frozen=True)
class Architecture:
    """Everything a video model runs per shot, and how pixels map to its latent tokens."""

    transformer: Network
    vae: Network
    text_encoders: tuple[TextEncoder, ...]
    latent_channels: int
    spatial_compression: int  # VAE pixels per latent pixel
    temporal_compression: int  # VAE frames per latent frame (after the first)
    text_tokens: int  # encoder_hidden_states length the transformer sees
    # CFG: the pipeline runs the transformer a second time (or on a doubled batch) with the
    # negative prompt when guidance > 1. HunyuanVideo is guidance-distilled: one pass, with the
    # guidance scale as an embedding (true_cfg_scale 1 in diffusers' pipeline).
    true_cfg: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Latent:
    """A shot's latent shape: channels, latent frames, height and width in latent pixels."""

    channels: int
    frames: int
    height: int
    width: int


def latent_shape(arch: Architecture, *, width: int, height: int, frames: int) -> Latent:
    """The latent a shot of `frames` frames at `width` x `height` pixels denoises."""
    return Latent(
        arch.latent_channels,
        (frames - 1) // arch.temporal_compression + 1,
        height // arch.spatial_compression,
        width // arch.spatial_compression,
    )


HUB = "https://huggingface.co/{}/blob/main/{}"

# --- text encoders -----------------------------------------------------------------------------
_UMT5_XXL = dict(
    vocab_size=256384,
    d_model=4096,
    d_kv=64,
    d_ff=10240,
    num_layers=24,
    num_heads=64,
    relative_attention_num_buckets=32,
    feed_forward_proj="gated-gelu",
)
_T5_V11_XXL = {**_UMT5_XXL, "vocab_size": 32128}
_CLIP_L = dict(
    vocab_size=49408,
    hidden_size=768,
    intermediate_size=3072,
    num_hidden_layers=12,
    num_attention_heads=12,
    max_position_embeddings=77,
)
_LLAVA_LLAMA3_8B = dict(
    vocab_size=128320,
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=8192,
    rope_theta=500000.0,
)


def _umt5(repo: str) -> TextEncoder:
    source = HUB.format(repo, "text_encoder/config.json")
    return TextEncoder(Network("transformers", "UMT5EncoderModel", _UMT5_XXL, source), 512)


def _t5(repo: str, tokens: int) -> TextEncoder:
    source = HUB.format(repo, "text_encoder/config.json")
    return TextEncoder(Network("transformers", "T5EncoderModel", _T5_V11_XXL, source), tokens)


# --- transformers --------------------------------------------------------------------------------
_WAN_COMMON = dict(
    patch_size=(1, 2, 2),
    attention_head_dim=128,
    in_channels=16,
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    rope_max_seq_len=1024,
)
_WAN_1_3B = {**_WAN_COMMON, "num_attention_heads": 12, "ffn_dim": 8960, "num_layers": 30}
_WAN_14B = {**_WAN_COMMON, "num_attention_heads": 40, "ffn_dim": 13824, "num_layers": 40}
_WAN_5B = {
    **_WAN_COMMON,
    "num_attention_heads": 24,
    "ffn_dim": 14336,
    "num_layers": 30,
    "in_channels": 48,
    "out_channels": 48,
}
_WAN21_VAE: dict[str, Any] = {}  # AutoencoderKLWan's defaults are Wan 2.1's VAE (z_dim 16)
_WAN22_VAE = dict(
    base_dim=160,
    decoder_base_dim=256,
    z_dim=48,
    dim_mult=[1, 2, 4, 4],
    num_res_blocks=2,
    temperal_downsample=[False, True, True],
    is_residual=True,
    in_channels=12,
    out_channels=12,
    patch_size=2,
    scale_factor_temporal=4,
    scale_factor_spatial=16,
    latents_mean=[0.0] * 48,  # values do not change FLOPs; the list length must be z_dim
    latents_std=[1.0] * 48,
)


def _wan(repo: str, transformer: dict, vae: dict, channels: int, spatial: int) -> Architecture:
    return Architecture(
        transformer=Network(
            "diffusers",
            "WanTransformer3DModel",
            transformer,
            HUB.format(repo, "transformer/config.json"),
        ),
        vae=Network("diffusers", "AutoencoderKLWan", vae, HUB.format(repo, "vae/config.json")),
        text_encoders=(_umt5(repo),),
        latent_channels=channels,
        spatial_compression=spatial,
        temporal_compression=4,
        text_tokens=512,
    )


_HY = "hunyuanvideo-community/HunyuanVideo"
_LTX = "Lightricks/LTX-Video"
_COG = "THUDM/CogVideoX-5b"
_MOCHI = "genmo/mochi-1-preview"

# LTX-2: diffusers' LTX2VideoTransformer3DModel defaults are LTX-2's transformer (48 blocks,
# 32 heads x 128 video, 32 x 64 audio, 18.9e9 parameters); its VAE as diffusers'
# convert_ltx2_to_diffusers.py "2.0" config; Gemma 3 12B reads 1024 prompt tokens.
LTX2_VAE = dict(
    latent_channels=128,
    block_out_channels=(256, 512, 1024, 2048),
    decoder_block_out_channels=(256, 512, 1024),
    layers_per_block=(4, 6, 6, 2, 2),
    decoder_layers_per_block=(5, 5, 5, 5),
    spatio_temporal_scaling=(True, True, True, True),
    decoder_spatio_temporal_scaling=(True, True, True),
    decoder_inject_noise=(False, False, False, False),
    downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
    upsample_residual=(True, True, True),
    upsample_factor=(2, 2, 2),
    timestep_conditioning=False,
    patch_size=4,
    patch_size_t=1,
    spatial_compression_ratio=32,
    temporal_compression_ratio=8,
)
_GEMMA3_12B = dict(
    vocab_size=262208,
    hidden_size=3840,
    intermediate_size=15360,
    num_hidden_layers=48,
    num_attention_heads=16,
    num_key_value_heads=8,
    head_dim=256,
)
# LTX-2.5 (and 2.3): gated attention and per-modality prompt modulation on the same widths, and
# no bias in the video feed-forward (diffusers 0.42.1, LTX2VideoTransformer3DModel's docstring:
# "ff_bias ... False for LTX-2.5"). Assumed, not read: the widths and depth are LTX-2's. This
# config has 19.0e9 parameters against the 22B Lightricks publishes for 2.3/2.5, so the quote
# may understate LTX-2.5 by up to about 15% until its transformer/config.json can be read.
LTX25_FLAGS = dict(
    gated_attn=True,
    cross_attn_mod=True,
    audio_gated_attn=True,
    audio_cross_attn_mod=True,
    ff_bias=False,
)


def _ltx2(repo: str, transformer: dict[str, Any]) -> Architecture:
    return Architecture(
        transformer=Network(
            "diffusers",
            "LTX2VideoTransformer3DModel",
            transformer,
            HUB.format(repo, "transformer/config.json"),
        ),
        vae=Network("diffusers", "AutoencoderKLLTX2Video", LTX2_VAE, HUB.format(repo, "vae")),
        text_encoders=(
            TextEncoder(
                Network(
                    "transformers",
                    "Gemma3TextModel",
                    _GEMMA3_12B,
                    HUB.format(repo, "text_encoder/config.json"),
                ),
                1024,
            ),
        ),
        latent_channels=128,
        spatial_compression=32,
        temporal_compression=8,
        text_tokens=1024,
        true_cfg=False,  # the distilled recipe: guidance 1
        # Audio latents per second: 16 kHz, a 160-sample mel hop, 4x compression.
        extra={"audio_latents_per_s": 25.0, "audio_channels": 128, "caption_dim": 3840},
    )


# Qwen2.5-VL 7B's language model (Qwen/Qwen2.5-VL-7B-Instruct config.json text part): the text
# encoder of Kandinsky 5 and HunyuanVideo 1.5 (the vision tower does not run on a text prompt).
_QWEN25_VL_7B_TEXT = dict(
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    rope_theta=1000000.0,
)


def _qwen25_vl(repo: str, tokens: int) -> TextEncoder:
    source = HUB.format(repo, "text_encoder/config.json")
    return TextEncoder(
        Network("transformers", "Qwen2_5_VLTextModel", _QWEN25_VL_7B_TEXT, source), tokens
    )


# Kandinsky 5 transformers: musubi-tuner's kandinsky5/configs.py (pin 30c658c4) restates the
# published DiT parameters of every task: Lite 1792 wide, 32 visual and 2 text blocks, heads of
# 16+24+24; Pro 4096 wide, 60 visual and 4 text blocks, heads of 32+48+48; both with the visual
# condition channels (2 x 16 + 1 inputs). The VAE is HunyuanVideo's (its class defaults).
_K5_COMMON = dict(
    in_visual_dim=16,
    out_visual_dim=16,
    in_text_dim=3584,
    in_text_dim2=768,
    time_dim=512,
    patch_size=(1, 2, 2),
    visual_cond=True,
    attention_type="regular",
)
K5_LITE = {
    **_K5_COMMON,
    "model_dim": 1792,
    "ff_dim": 7168,
    "num_text_blocks": 2,
    "num_visual_blocks": 32,
    "axes_dims": (16, 24, 24),
}
K5_PRO = {
    **_K5_COMMON,
    "model_dim": 4096,
    "ff_dim": 16384,
    "num_text_blocks": 4,
    "num_visual_blocks": 60,
    "axes_dims": (32, 48, 48),
}


def _kandinsky5(repo: str, transformer: dict[str, Any]) -> Architecture:
    # The Qwen prompt: a 128-token template (cropped after encoding) and up to 256 prompt tokens.
    return Architecture(
        transformer=Network(
            "diffusers",
            "Kandinsky5Transformer3DModel",
            transformer,
            HUB.format(repo, "transformer/config.json")
            + "; musubi-tuner src/musubi_tuner/kandinsky5/configs.py",
        ),
        vae=Network("diffusers", "AutoencoderKLHunyuanVideo", {}, HUB.format(repo, "vae")),
        text_encoders=(
            _qwen25_vl(repo, 128 + 256),
            TextEncoder(
                Network(
                    "transformers",
                    "CLIPTextModel",
                    _CLIP_L,
                    HUB.format(repo, "text_encoder_2/config.json"),
                ),
                77,
            ),
        ),
        latent_channels=16,
        spatial_compression=8,
        temporal_compression=4,
        text_tokens=256,
        extra={"pooled_dim": 768, "text_dim": 3584},
    )


# HunyuanVideo 1.5: HunyuanVideo15Transformer3DModel's defaults are the published 8.3B network;
# the 720p text-to-video checkpoint sets target_size 960 and task_type t2v (diffusers'
# convert_hunyuan_video1_5_to_diffusers.py). The Qwen prompt is padded to 1000 tokens after a
# 108-token template; the ByT5 glyph encoder runs only for quoted text in a prompt (zeros else),
# so it is not counted; its 256 zero tokens still enter the transformer.
_HY15 = "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_t2v"
HY15_720P_T2V = {"target_size": 960, "task_type": "t2v"}

ARCHITECTURES: dict[str, Architecture] = {
    "ltx_2": _ltx2("Lightricks/LTX-2", {}),
    "ltx_2_5": _ltx2("Lightricks/LTX-2.5", LTX25_FLAGS),
    "hunyuan_video": Architecture(
        # The published transformer/config.json equals HunyuanVideoTransformer3DModel's
        # defaults: 20 dual-stream + 40 single-stream blocks, 24 heads x 128, patch 1x2x2.
        transformer=Network(
            "diffusers",
            "HunyuanVideoTransformer3DModel",
            {},
            HUB.format(_HY, "transformer/config.json"),
        ),
        vae=Network(
            "diffusers", "AutoencoderKLHunyuanVideo", {}, HUB.format(_HY, "vae/config.json")
        ),
        text_encoders=(
            # llava-llama-3-8b's language model; the prompt template adds 95 tokens that are
            # encoded and then cropped (pipeline_hunyuan_video: crop_start 95, max 256).
            TextEncoder(
                Network(
                    "transformers",
                    "LlamaModel",
                    _LLAVA_LLAMA3_8B,
                    HUB.format(_HY, "text_encoder/config.json"),
                ),
                256 + 95,
            ),
            TextEncoder(
                Network(
                    "transformers",
                    "CLIPTextModel",
                    _CLIP_L,
                    HUB.format(_HY, "text_encoder_2/config.json"),
                ),
                77,
            ),
        ),
        latent_channels=16,
        spatial_compression=8,
        temporal_compression=4,
        text_tokens=256,
        true_cfg=False,
        extra={"pooled_dim": 768},
    ),
    "kandinsky5_lite": _kandinsky5("kandinskylab/Kandinsky-5.0-T2V-Lite-sft-5s-Diffusers", K5_LITE),
    "kandinsky5_pro": _kandinsky5("kandinskylab/Kandinsky-5.0-T2V-Pro-sft-5s-Diffusers", K5_PRO),
    "hunyuan_video_1_5": Architecture(
        transformer=Network(
            "diffusers",
            "HunyuanVideo15Transformer3DModel",
            HY15_720P_T2V,
            HUB.format(_HY15, "transformer/config.json"),
        ),
        vae=Network(
            "diffusers", "AutoencoderKLHunyuanVideo15", {}, HUB.format(_HY15, "vae/config.json")
        ),
        text_encoders=(_qwen25_vl(_HY15, 1000 + 108),),
        latent_channels=32,
        spatial_compression=16,
        temporal_compression=4,
        text_tokens=1000,
        extra={"text_dim": 3584, "glyph_tokens": 256, "glyph_dim": 1472, "image_tokens": 729},
    ),
    "wan21_t2v_1_3b": _wan("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", _WAN_1_3B, _WAN21_VAE, 16, 8),
    "wan21_t2v_14b": _wan("Wan-AI/Wan2.1-T2V-14B-Diffusers", _WAN_14B, _WAN21_VAE, 16, 8),
    # Two experts of the same architecture (transformer/ and transformer_2/).
    "wan22_t2v_a14b": _wan("Wan-AI/Wan2.2-T2V-A14B-Diffusers", _WAN_14B, _WAN21_VAE, 16, 8),
    "wan22_ti2v_5b": _wan("Wan-AI/Wan2.2-TI2V-5B-Diffusers", _WAN_5B, _WAN22_VAE, 48, 16),
    "ltx_video": Architecture(
        # LTX-Video 0.9.x transformer/config.json equals LTXVideoTransformer3DModel's defaults
        # (28 blocks, 32 heads x 64, 128 latent channels, patch 1).
        transformer=Network(
            "diffusers",
            "LTXVideoTransformer3DModel",
            {},
            HUB.format(_LTX, "transformer/config.json"),
        ),
        vae=Network("diffusers", "AutoencoderKLLTXVideo", {}, HUB.format(_LTX, "vae/config.json")),
        text_encoders=(_t5(_LTX, 128),),
        latent_channels=128,
        spatial_compression=32,
        temporal_compression=8,
        text_tokens=128,
    ),
    # HoloCine: a fine-tune of Wan 2.2 T2V-A14B with no new parameters (its published single
    # files load into that layout); the sparse checkpoints have the same weights' shapes.
    "holocine_14b": _wan("Wan-AI/Wan2.2-T2V-A14B-Diffusers", _WAN_14B, _WAN21_VAE, 16, 8),
    "holocine_14b_sparse": _wan("Wan-AI/Wan2.2-T2V-A14B-Diffusers", _WAN_14B, _WAN21_VAE, 16, 8),
    "mochi_1": Architecture(
        # genmo/mochi-1-preview transformer/config.json equals MochiTransformer3DModel's
        # defaults (48 layers, 24 heads x 128, 12 latent channels, patch 2, 256 text tokens);
        # the VAE's equals AutoencoderKLMochi's (8x space, 6x time).
        transformer=Network(
            "diffusers",
            "MochiTransformer3DModel",
            {},
            HUB.format(_MOCHI, "transformer/config.json"),
        ),
        vae=Network("diffusers", "AutoencoderKLMochi", {}, HUB.format(_MOCHI, "vae/config.json")),
        text_encoders=(_t5(_MOCHI, 256),),
        latent_channels=12,
        spatial_compression=8,
        temporal_compression=6,
        text_tokens=256,
    ),
    "cogvideox_5b": Architecture(
        transformer=Network(
            "diffusers",
            "CogVideoXTransformer3DModel",
            dict(
                num_attention_heads=48,
                attention_head_dim=64,
                in_channels=16,
                out_channels=16,
                time_embed_dim=512,
                text_embed_dim=4096,
                num_layers=42,
                sample_width=90,
                sample_height=60,
                sample_frames=49,
                patch_size=2,
                temporal_compression_ratio=4,
                max_text_seq_length=226,
                use_rotary_positional_embeddings=True,
                use_learned_positional_embeddings=False,
            ),
            HUB.format(_COG, "transformer/config.json"),
        ),
        vae=Network(
            "diffusers",
            "AutoencoderKLCogVideoX",
            {"scaling_factor": 0.7},
            HUB.format(_COG, "vae/config.json"),
        ),
        text_encoders=(_t5(_COG, 226),),
        latent_channels=16,
        spatial_compression=8,
        temporal_compression=4,
        text_tokens=226,
    ),
}

# The image-to-video checkpoints (registry.REFERENCE_MODELS) a still-conditioned shot renders
# with: each its text-to-video sibling's layout, with these differences.
_HY15_I2V = "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_i2v"
ARCHITECTURES.update(
    {
        # Wan2.2-I2V-A14B transformer/config.json: in_channels 36 (16 noise, 4 mask, 16 of the
        # still's latent), out_channels 16, no image embedder (image_dim null).
        "wan22_i2v_a14b": _wan(
            "Wan-AI/Wan2.2-I2V-A14B-Diffusers",
            {**_WAN_14B, "in_channels": 36},
            _WAN21_VAE,
            16,
            8,
        ),
        # The 720p I2V transformer: the T2V's layout with task_type i2v (the conversion script).
        "hunyuan_video_1_5_i2v": dataclasses.replace(
            ARCHITECTURES["hunyuan_video_1_5"],
            transformer=Network(
                "diffusers",
                "HunyuanVideo15Transformer3DModel",
                {**HY15_720P_T2V, "task_type": "i2v"},
                HUB.format(_HY15_I2V, "transformer/config.json"),
            ),
        ),
        "kandinsky5_pro_i2v": _kandinsky5(
            "kandinskylab/Kandinsky-5.0-I2V-Pro-sft-5s-Diffusers", K5_PRO
        ),
        # LTX-2 conditions on the still with its own checkpoint.
        "ltx_2_i2v": ARCHITECTURES["ltx_2"],
        "ltx_2_5_i2v": ARCHITECTURES["ltx_2_5"],
    }
)

_SDXL = "stabilityai/stable-diffusion-xl-base-1.0"
SDXL_UNET = Network(
    "diffusers",
    "UNet2DConditionModel",
    dict(
        sample_size=128,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(320, 640, 1280),
        layers_per_block=2,
        cross_attention_dim=2048,
        attention_head_dim=(5, 10, 20),
        transformer_layers_per_block=(1, 2, 10),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
    ),
    HUB.format(_SDXL, "unet/config.json"),
)
SDXL_VAE = Network(
    "diffusers",
    "AutoencoderKL",
    dict(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=1024,
    ),
    HUB.format(_SDXL, "vae/config.json"),
)
SDXL_TEXT_ENCODERS = (
    TextEncoder(
        Network(
            "transformers", "CLIPTextModel", _CLIP_L, HUB.format(_SDXL, "text_encoder/config.json")
        ),
        77,
    ),
    TextEncoder(
        Network(
            "transformers",
            "CLIPTextModelWithProjection",
            dict(
                vocab_size=49408,
                hidden_size=1280,
                intermediate_size=5120,
                num_hidden_layers=32,
                num_attention_heads=20,
                max_position_embeddings=77,
                projection_dim=1280,
                hidden_act="gelu",
            ),
            HUB.format(_SDXL, "text_encoder_2/config.json"),
        ),
        77,
    ),
)
# Real-ESRGAN x4plus: RRDBNet (spandrel "ESRGAN"), 64 features, 23 blocks, 32 growth channels
# (inference_realesrgan.py of xinntao/Real-ESRGAN v0.1.0); realesr-general-x4v3: SRVGGNetCompact
# (spandrel "Compact"), 64 features, 32 convs. Keyed by the registry's architecture name;
# values are spandrel's constructor arguments (ESRGAN, Compact).
REALESRGAN = {
    "RRDBNet": dict(in_nc=3, out_nc=3, num_filters=64, num_blocks=23, scale=4),
    "SRVGGNetCompact": dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=32, upscale=4),
}


def architecture(model_name: str) -> Architecture:
    """The published architecture of registry model `model_name`."""
    try:
        return ARCHITECTURES[model_name]
    except KeyError:
        raise KeyError(
            f"no published architecture for video model {model_name!r}; "
            f"known: {', '.join(sorted(ARCHITECTURES))}"
        ) from None


# Every registry model must be countable: a model added without its architecture fails import.
_missing = sorted({*VIDEO_MODELS, *REFERENCE_MODELS} - set(ARCHITECTURES))
if _missing:
    raise RuntimeError(f"registry models without a published architecture: {', '.join(_missing)}")


# Qwen3-TTS 12 Hz 1.7B, the voice engine (Base and CustomVoice share the architecture; the variants
# differ in the speaker encoder Base adds and in the stock voices' embedding rows). Keys are the
# arguments of qwen-tts 0.1.1's own config classes (Qwen3TTSTalkerConfig with its
# code_predictor_config, Qwen3TTSTokenizerV2DecoderConfig), which the FLOP counter builds on the
# meta device in the voice environment (resources/sound/qwen3_tts_flops.py). The Hub config.json
# files (Qwen/Qwen3-TTS-12Hz-1.7B-Base/config.json, Qwen/Qwen3-TTS-Tokenizer-12Hz/config.json) could
# not be read offline; the numbers are the published ones as re-stated by independent ports:
# * Confirmed by two or more ports that load the published checkpoint (vLLM-Omni's Qwen3TTSConfig
#   defaults, the Swift port's Qwen3TTSTalkerConfig defaults in ivan-digital/qwen3-asr-swift and
#   its tests, an MLX port's config fixture): talker hidden 2048, 28 layers, 16 heads, 8 KV heads,
#   head_dim 128, intermediate 6144 (not 8192, as one architecture note says), codec vocab 3072,
#   text vocab 151936, text hidden 2048, 16 code groups, rope theta 1e6, mrope section [24, 20, 20];
#   code predictor hidden 1024, intermediate 3072, 5 layers, 16 heads, 8 KV heads, head_dim 128,
#   vocab 2048; codec decoder: 16 quantizers of 2048 codes, codebook_dim 512, latent 1024, hidden
#   512, intermediate 1024, 8 layers, 16 heads (16 KV), head_dim 64, sliding window 72, decoder_dim
#   1536, upsample rates [8, 5, 4, 3] then [2, 2] (1920 samples a frame: 12.5 frames/s at 24 kHz).
# * Assumed: the 0.6B's code predictor is the same (not needed here); attention without bias, as
#   the class default; the codec's ids past the codebook (2048-3071) as in the published configs.
QWEN3_TTS_SOURCE = (
    "Qwen/Qwen3-TTS-12Hz-1.7B-Base and Qwen/Qwen3-TTS-Tokenizer-12Hz config.json, as re-stated "
    "by vLLM-Omni (Qwen3TTSConfig defaults) and ivan-digital/qwen3-asr-swift (docs/tts-model.md, "
    "Qwen3TTSTalkerConfig); not read from the Hub (offline)"
)
QWEN3_TTS_TALKER = Network(
    "qwen_tts",
    "Qwen3TTSTalkerForConditionalGeneration",
    dict(
        vocab_size=3072,
        hidden_size=2048,
        intermediate_size=6144,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        hidden_act="silu",
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rope_scaling={"rope_type": "default", "mrope_section": [24, 20, 20], "interleaved": True},
        num_code_groups=16,
        text_hidden_size=2048,
        text_vocab_size=151936,
        codec_eos_token_id=2150,
        codec_think_id=2154,
        codec_nothink_id=2155,
        codec_think_bos_id=2156,
        codec_think_eos_id=2157,
        codec_pad_id=2148,
        codec_bos_id=2149,
        spk_id={},
        spk_is_dialect={},
        codec_language_id={"portuguese": 2071},
        code_predictor_config=dict(
            vocab_size=2048,
            hidden_size=1024,
            intermediate_size=3072,
            num_hidden_layers=5,
            num_attention_heads=16,
            num_key_value_heads=8,
            head_dim=128,
            hidden_act="silu",
            max_position_embeddings=65536,
            rope_theta=1_000_000.0,
            num_code_groups=16,
        ),
    ),
    QWEN3_TTS_SOURCE,
)
QWEN3_TTS_DECODER = Network(
    "qwen_tts",
    "Qwen3TTSTokenizerV2Decoder",
    dict(
        codebook_size=2048,
        codebook_dim=512,
        hidden_size=512,
        head_dim=64,
        latent_dim=1024,
        max_position_embeddings=8000,
        rope_theta=10000,
        num_attention_heads=16,
        num_key_value_heads=16,
        sliding_window=72,
        intermediate_size=1024,
        hidden_act="silu",
        num_hidden_layers=8,
        num_quantizers=16,
        upsample_rates=[8, 5, 4, 3],
        upsampling_ratios=[2, 2],
        decoder_dim=1536,
    ),
    QWEN3_TTS_SOURCE,
)
