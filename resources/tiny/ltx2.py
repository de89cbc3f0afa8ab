"""A tiny LTX-2 pipeline: video and audio branches, both VAEs, vocoder, Gemma 3 text encoder.

The real diffusers and transformers classes with small configs and fixed random weights. The
layout follows the published checkpoints where callers depend on it: the video VAE compresses
32x in space and 8x in time (4x4 patchify, then the spatial / temporal / spatio-temporal
halvings), the audio VAE reads 16 kHz mel frames with a 160-sample hop and compresses them 4x,
the text connectors read every hidden state of the text encoder, and the latent upsampler doubles
a latent's width and height. LTX-2.5 differs from LTX-2 by its gated attention and prompt
modulation flags, set here as in its transformer config.
"""

from __future__ import annotations

from diffusers import (
    AutoencoderKLLTX2Audio,
    AutoencoderKLLTX2Video,
    LTX2ConditionPipeline,
    LTX2Pipeline,
    LTX2VideoTransformer3DModel,
)
from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel, LTX2TextConnectors
from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
from transformers import (
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma3TextConfig,
    SiglipVisionConfig,
)

from resources.domain.architectures import LTX2_VAE, LTX25_FLAGS
from resources.domain.registry import VideoModel
from resources.tiny.seeding import flow_match_scheduler, seeded
from resources.tiny.text import build_llama_tokenizer

LATENT_UPSAMPLER = "latent_upsampler"  # the folder beside the pipeline's components
TEXT_TOKENS = 128  # the tiny tokenizer's length: prompts are padded to it
_TEXT_DIM = 16
_LATENT = 8  # video latent channels
_MEL_BINS = 16
_AUDIO_LATENT = 2  # audio latent channels; x (mel bins / 4) = the audio stream's width


def _text_encoder(vocab: int, tokenizer) -> Gemma3ForConditionalGeneration:
    text = Gemma3TextConfig(
        vocab_size=vocab,
        hidden_size=_TEXT_DIM,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=2 * TEXT_TOKENS,
        sliding_window=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    vision = SiglipVisionConfig(
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=28,
        patch_size=14,
    )
    # Image tokens sit above the text vocabulary: no prompt ever reaches them.
    config = Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=4,
        image_token_index=vocab + 10,
        boi_token_index=vocab + 11,
        eoi_token_index=vocab + 12,
    )
    return Gemma3ForConditionalGeneration(config)


def _transformer(model: VideoModel) -> LTX2VideoTransformer3DModel:
    flags = LTX25_FLAGS if model.name == "ltx_2_5" else {}
    return LTX2VideoTransformer3DModel(
        in_channels=_LATENT,
        out_channels=_LATENT,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=_AUDIO_LATENT * _MEL_BINS // 4,
        audio_out_channels=_AUDIO_LATENT * _MEL_BINS // 4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        caption_channels=_TEXT_DIM,
        rope_type="split",
        rope_double_precision=False,
        **flags,
    )


def _connectors() -> LTX2TextConnectors:
    # LTX-2's connectors keep the text width: heads x head_dim = the text encoder's hidden size.
    width = dict(num_attention_heads=2, attention_head_dim=8, num_layers=1)
    return LTX2TextConnectors(
        caption_channels=_TEXT_DIM,
        text_proj_in_factor=3,  # the embeddings and two layers' hidden states
        **{f"video_connector_{k}": v for k, v in width.items()},
        video_connector_num_learnable_registers=None,
        **{f"audio_connector_{k}": v for k, v in width.items()},
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_double_precision=False,
        rope_type="split",
    )


def _video_vae() -> AutoencoderKLLTX2Video:
    # LTX-2's block layout (so its compression), at tiny widths and one layer per block.
    return AutoencoderKLLTX2Video(
        **{
            **LTX2_VAE,
            "latent_channels": _LATENT,
            "block_out_channels": (8, 16, 32, 64),
            "decoder_block_out_channels": (8, 16, 32),
            "layers_per_block": (1, 1, 1, 1, 1),
            "decoder_layers_per_block": (1, 1, 1, 1),
        }
    )


def _audio() -> tuple[AutoencoderKLLTX2Audio, LTX2Vocoder]:
    with seeded():
        vae = AutoencoderKLLTX2Audio(
            base_channels=_AUDIO_LATENT * _MEL_BINS // 4,  # its latent statistics' width
            output_channels=2,
            ch_mult=(1, 2, 4),
            num_res_blocks=1,
            in_channels=2,
            resolution=32,
            latent_channels=_AUDIO_LATENT,
            sample_rate=16000,
            mel_hop_length=160,
            mel_bins=_MEL_BINS,
        )
    with seeded():
        # 160 output samples per mel frame (10 x 4 x 4): 16 kHz out of a 160-sample hop.
        vocoder = LTX2Vocoder(
            in_channels=2 * _MEL_BINS,
            hidden_channels=16,
            out_channels=2,
            upsample_kernel_sizes=[20, 8, 8],
            upsample_factors=[10, 4, 4],
            resnet_kernel_sizes=[3],
            resnet_dilations=[[1, 3]],
            output_sampling_rate=16000,
        )
    return vae, vocoder


def build_tiny_ltx2(model: VideoModel) -> LTX2Pipeline | LTX2ConditionPipeline:
    """`model`'s LTX2Pipeline with tiny random weights (the same seed builds the same bytes);
    its LTX2ConditionPipeline for the image-to-video entry: the same checkpoint, so the same
    weights."""
    tokenizer = build_llama_tokenizer(model_max_length=TEXT_TOKENS)
    with seeded():
        text_encoder = _text_encoder(len(tokenizer), tokenizer)
    with seeded():
        transformer = _transformer(model)
    with seeded():
        connectors = _connectors()
    with seeded():
        vae = _video_vae()
    audio_vae, vocoder = _audio()
    pipeline_class = LTX2ConditionPipeline if model.takes_image else LTX2Pipeline
    return pipeline_class(
        scheduler=flow_match_scheduler(model),
        vae=vae,
        audio_vae=audio_vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        connectors=connectors,
        transformer=transformer,
        vocoder=vocoder,
    )


def build_tiny_latent_upsampler() -> LTX2LatentUpsamplerModel:
    """The x2 spatial latent upsampler of the two-stage recipe, at the tiny latent width."""
    with seeded():
        return LTX2LatentUpsamplerModel(
            in_channels=_LATENT, mid_channels=32, num_blocks_per_stage=1
        )


def tiny_ltx2_extras() -> dict[str, LTX2LatentUpsamplerModel]:
    """What the two-stage recipe loads beside the pipeline: the latent upsampler, in its own
    folder."""
    return {LATENT_UPSAMPLER: build_tiny_latent_upsampler()}
