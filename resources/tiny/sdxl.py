"""A tiny Stable Diffusion XL pipeline: SDXL's real classes and layout, small random weights.

Same component set as stabilityai/stable-diffusion-xl-base-1.0 (UNet with text-time added
conditioning, two CLIP text encoders, the second with a projection, Euler scheduler), with
diffusers' fast-test sizes: the UNet's 32x32 latents decode to 64x64 images.
"""

from __future__ import annotations

from pathlib import Path

from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from resources.tiny.seeding import seeded
from resources.tiny.text import build_clip_tokenizer, clip_text_config
from resources.tiny.video import save_pipeline_atomically

# Each CLIP's hidden width; the UNet cross-attends to both, concatenated.
_TEXT_WIDTH = 32
# SDXL's added conditioning: six size/crop ids embedded at 8 dims, plus the pooled text projection.
_TIME_EMBED_DIM = 8
_PROJECTION_DIM = 32


def _tiny_sdxl() -> StableDiffusionXLPipeline:
    tokenizer = build_clip_tokenizer()
    tokenizer_2 = build_clip_tokenizer()
    with seeded():
        unet = UNet2DConditionModel(
            block_out_channels=(2, 4),
            layers_per_block=2,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=_TIME_EMBED_DIM,
            transformer_layers_per_block=(1, 2),
            projection_class_embeddings_input_dim=6 * _TIME_EMBED_DIM + _PROJECTION_DIM,
            cross_attention_dim=2 * _TEXT_WIDTH,
            norm_num_groups=1,
        )
    with seeded():
        vae = AutoencoderKL(
            block_out_channels=[32, 64],
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
            up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
            latent_channels=4,
            sample_size=128,
        )
    with seeded():
        text_encoder = CLIPTextModel(clip_text_config(tokenizer, hidden_size=_TEXT_WIDTH))
    with seeded():
        text_encoder_2 = CLIPTextModelWithProjection(
            clip_text_config(tokenizer_2, hidden_size=_TEXT_WIDTH, projection_dim=_PROJECTION_DIM)
        )
    # SDXL base's scheduler_config.json values.
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
        image_encoder=None,
        feature_extractor=None,
        force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )


def build_tiny_sdxl(out_dir: Path) -> None:
    """Build a tiny StableDiffusionXLPipeline (64x64 renders) and save it to `out_dir`."""
    save_pipeline_atomically(_tiny_sdxl(), Path(out_dir))
