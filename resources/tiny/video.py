"""Tiny text-to-video pipelines: each family's real diffusers classes with small random weights.

The `tiny` profile runs the production code paths (`from_pretrained`, LoRA loading, prompt
encoding, denoising, VAE decoding) on CPU in seconds. Layouts follow the real checkpoints where it
matters to callers: VAE compression ratios and frame rules, latent normalisation, LoRA target
module names, text-encoder interfaces. Widths are tiny.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from diffusers import (
    AutoencoderKLCogVideoX,
    AutoencoderKLLTXVideo,
    AutoencoderKLMochi,
    AutoencoderKLWan,
    CogVideoXDPMScheduler,
    CogVideoXPipeline,
    CogVideoXTransformer3DModel,
    DiffusionPipeline,
    FlowMatchEulerDiscreteScheduler,
    HunyuanVideoPipeline,
    HunyuanVideoTransformer3DModel,
    LTXPipeline,
    LTXVideoTransformer3DModel,
    MochiPipeline,
    MochiTransformer3DModel,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from transformers import (
    CLIPTextModel,
    LlamaConfig,
    LlamaModel,
    T5Config,
    T5EncoderModel,
    UMT5Config,
    UMT5EncoderModel,
)

from resources import families
from resources.domain.registry import VideoModel
from resources.tiny.seeding import SEED, flow_match_scheduler, hunyuan_video_vae, seeded
from resources.tiny.text import (
    build_clip_tokenizer,
    build_llama_tokenizer,
    build_t5_tokenizer,
    clip_text_config,
    t5_text_config,
)

# A random decoder's output is faint texture around grey; the tiny upscaler averages that away,
# and the deliverable's picture check then sees a frozen frame. This gain on the last layer of
# the Mochi and CogVideoX tiny decoders keeps their motion visible through the upscaler.
DECODER_GAIN = 6.0


def save_pipeline_atomically(
    pipe: DiffusionPipeline, out_dir: Path, extras: dict[str, Any] | None = None
) -> None:
    """Save `pipe` (and `extras`, models saved into subfolders of their name) to a temporary
    sibling of `out_dir`, then move it into place (replacing it)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    stale = out_dir.with_name(f".{out_dir.name}.stale-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        pipe.save_pretrained(partial, safe_serialization=True)
        for name, module in (extras or {}).items():
            module.save_pretrained(partial / name, safe_serialization=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    # A reader sees the old complete folder or the new one (or, during the swap, none), never a
    # half-written one.
    if out_dir.exists():
        out_dir.rename(stale)
    partial.rename(out_dir)
    shutil.rmtree(stale, ignore_errors=True)


def tiny_hunyuan(model: VideoModel) -> HunyuanVideoPipeline:
    tokenizer = build_llama_tokenizer()
    tokenizer_2 = build_clip_tokenizer()
    with seeded():
        transformer = HunyuanVideoTransformer3DModel(
            in_channels=4,
            out_channels=4,
            num_attention_heads=2,
            attention_head_dim=10,
            num_layers=1,
            num_single_layers=1,
            num_refiner_layers=1,
            patch_size=2,
            patch_size_t=1,
            guidance_embeds=True,
            text_embed_dim=16,
            pooled_projection_dim=8,
            rope_axes_dim=(2, 4, 4),
        )
    vae = hunyuan_video_vae()
    with seeded():
        # Two layers: the pipeline reads the hidden state two layers below the top.
        text_encoder = LlamaModel(
            LlamaConfig(
                vocab_size=len(tokenizer),
                hidden_size=16,
                intermediate_size=37,
                num_hidden_layers=2,
                num_attention_heads=4,
                max_position_embeddings=tokenizer.model_max_length,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        )
    with seeded():
        text_encoder_2 = CLIPTextModel(clip_text_config(tokenizer_2, hidden_size=8))
    return HunyuanVideoPipeline(
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        vae=vae,
        scheduler=flow_match_scheduler(model),
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
    )


def _wan_transformer(
    in_channels: int, seed: int, out_channels: int | None = None
) -> WanTransformer3DModel:
    with seeded(seed):
        # Two blocks: the first-block cache needs a first block and at least one more.
        return WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=in_channels,
            out_channels=out_channels or in_channels,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        )


def _wan_vae(model: VideoModel) -> AutoencoderKLWan:
    with seeded():
        if model.expand_timesteps:
            # Wan 2.2 TI2V layout: 2x2 patchify in front of the residual VAE, 48 latent channels,
            # 16x spatial compression (the real one's latents_mean/std are per-checkpoint data).
            return AutoencoderKLWan(
                base_dim=8,
                z_dim=48,
                dim_mult=[1, 1, 1, 1],
                num_res_blocks=1,
                temperal_downsample=[False, True, True],
                latents_mean=[0.0] * 48,
                latents_std=[1.0] * 48,
                is_residual=True,
                in_channels=12,
                out_channels=12,
                patch_size=2,
                scale_factor_spatial=16,
            )
        # z_dim 16 keeps Wan 2.1's per-channel latents_mean / latents_std (config defaults).
        return AutoencoderKLWan(
            base_dim=8,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )


def tiny_wan(model: VideoModel) -> WanPipeline | WanImageToVideoPipeline:
    tokenizer = build_t5_tokenizer()
    vae = _wan_vae(model)
    channels = vae.config.z_dim
    with seeded():
        text_encoder = UMT5EncoderModel(t5_text_config(UMT5Config, tokenizer, d_model=32))
    if model.takes_image:
        # Wan 2.2 I2V A14B: the transformers read the noise, a 4-channel mask of the given
        # frames and the still's latent (16 + 4 + 16 = 36 channels) and predict 16; no CLIP
        # image encoder. Other seeds than the T2V experts': another checkpoint.
        inputs = 2 * channels + vae.config.scale_factor_temporal
        return WanImageToVideoPipeline(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            vae=vae,
            scheduler=flow_match_scheduler(model),
            transformer=_wan_transformer(inputs, SEED + 2, channels),
            transformer_2=_wan_transformer(inputs, SEED + 3, channels),
            boundary_ratio=model.boundary_ratio,
        )
    # Wan 2.2 A14B: a second expert with its own weights denoises below the boundary.
    transformer_2 = _wan_transformer(channels, SEED + 1) if model.experts == 2 else None
    return WanPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=flow_match_scheduler(model),
        transformer=_wan_transformer(channels, SEED),
        transformer_2=transformer_2,
        boundary_ratio=model.boundary_ratio,
        expand_timesteps=model.expand_timesteps,
    )


def tiny_ltx(model: VideoModel) -> LTXPipeline:
    tokenizer = build_t5_tokenizer()
    with seeded():
        transformer = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=2,
            caption_channels=32,
        )
    with seeded():
        # LTX-Video layout: 4x4 patchify, then three spatio-temporal halvings: 32x space, 8x time.
        vae = AutoencoderKLLTXVideo(
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, True, False),
            decoder_spatio_temporal_scaling=(True, True, True, False),
            patch_size=4,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
    with seeded():
        text_encoder = T5EncoderModel(t5_text_config(T5Config, tokenizer, d_model=32))
    return LTXPipeline(
        scheduler=flow_match_scheduler(model),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )


def tiny_cogvideox(model: VideoModel) -> CogVideoXPipeline:
    tokenizer = build_t5_tokenizer()
    with seeded():
        # CogVideoX-5B layout: 3D RoPE (no learned positions), 2x2 patches over a 4x-in-time,
        # 8x-in-space VAE; sample_* is the latent grid RoPE is laid out for.
        transformer = CogVideoXTransformer3DModel(
            num_attention_heads=2,
            attention_head_dim=16,  # 3D RoPE splits it 4 (t) + 6 (h) + 6 (w)
            in_channels=4,
            out_channels=4,
            time_embed_dim=8,
            text_embed_dim=32,
            num_layers=2,
            sample_width=model.tiny.width // 8,
            sample_height=model.tiny.height // 8,
            sample_frames=9,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=226,
            use_rotary_positional_embeddings=True,
        )
    with seeded():
        vae = AutoencoderKLCogVideoX(
            in_channels=3,
            out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=4,
        )
        vae.decoder.conv_out.conv.weight.data.mul_(DECODER_GAIN)
    with seeded():
        text_encoder = T5EncoderModel(t5_text_config(T5Config, tokenizer, d_model=32))
    # CogVideoX-5B's own sampler: v-prediction DPM with zero-terminal-SNR betas, no flow shift.
    scheduler = CogVideoXDPMScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        prediction_type="v_prediction",
        rescale_betas_zero_snr=True,
        timestep_spacing="trailing",
        set_alpha_to_one=True,
        clip_sample=False,
    )
    return CogVideoXPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=scheduler,
    )


def tiny_mochi(model: VideoModel) -> MochiPipeline:
    tokenizer = build_t5_tokenizer(model_max_length=256)
    with seeded():
        # Mochi layout: 2x2 patches over a 12-channel, 8x-in-space, 6x-in-time VAE; the text
        # length the pipeline pads to (256) is the transformer's max_sequence_length.
        transformer = MochiTransformer3DModel(
            patch_size=2,
            num_attention_heads=2,
            attention_head_dim=8,
            num_layers=2,
            pooled_projection_dim=16,
            in_channels=12,
            qk_norm="rms_norm",
            text_embed_dim=32,
            time_embed_dim=4,
            activation_fn="swiglu",
            max_sequence_length=256,
        )
    with seeded():
        # The real VAE's block layout (its default temporal and spatial expansions); 32 channels,
        # the fewest its fixed 32-group norms allow.
        vae = AutoencoderKLMochi(
            latent_channels=12,
            out_channels=3,
            encoder_block_out_channels=(32, 32, 32, 32),
            decoder_block_out_channels=(32, 32, 32, 32),
            layers_per_block=(1, 1, 1, 1, 1),
        )
        vae.decoder.proj_out.weight.data.mul_(DECODER_GAIN)
    with seeded():
        text_encoder = T5EncoderModel(t5_text_config(T5Config, tokenizer, d_model=32))
    # As genmo's diffusers checkpoint: the pipeline's linear-quadratic sigmas, inverted.
    scheduler = FlowMatchEulerDiscreteScheduler(invert_sigmas=True)
    return MochiPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )


def build_tiny_video_pipeline(model: VideoModel, out_dir: Path) -> None:
    """Build `model`'s family pipeline with tiny random weights and save it to `out_dir`."""
    conventions = families.family(model.family)
    pipe = conventions.tiny_builder()(model)
    extras = conventions.tiny_extras_builder()() if conventions.tiny_extras else None
    if type(pipe).__name__ != model.pipeline_class:
        raise ValueError(
            f"model {model.name!r} names pipeline {model.pipeline_class!r}, but family "
            f"{model.family!r} builds {type(pipe).__name__!r}; fix the registry entry"
        )
    save_pipeline_atomically(pipe, Path(out_dir), extras)
