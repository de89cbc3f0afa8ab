"""HunyuanVideo 1.5 (Tencent, 2025): condition latents beside the noise, Qwen and ByT5 glyph
prompts, SigLIP image tokens, guidance from the pipeline's guider."""

from __future__ import annotations

import math
from typing import Any

import torch
from PIL import Image, ImageOps

from resources.domain.architectures import Architecture, Latent
from resources.domain.registry import VideoModel
from resources.families.base import Family, meta, meta_mask, musubi_task, scaled_latents


def _encode_text(pipe: Any, caption: str, device: str) -> dict[str, torch.Tensor]:
    embeds, mask, glyph, glyph_mask = pipe.encode_prompt(caption, device=device)
    return {
        "encoder_hidden_states": embeds,
        "encoder_attention_mask": mask,
        "encoder_hidden_states_2": glyph,
        "encoder_attention_mask_2": glyph_mask,
    }


def _predict(pipe, model, transformer, noisy, timestep, text) -> torch.Tensor:
    # Text-to-video: the condition latents and their mask are zeros, as are the image tokens.
    b, c, f, h, w = noisy.shape
    zeros = torch.zeros(b, c + 1, f, h, w, device=noisy.device, dtype=noisy.dtype)
    image = torch.zeros(
        b,
        pipe.vision_num_semantic_tokens,
        transformer.config.image_embed_dim,
        device=noisy.device,
        dtype=noisy.dtype,
    )
    return transformer(
        hidden_states=torch.cat([noisy, zeros], dim=1),
        image_embeds=image,
        timestep=timestep.to(noisy.dtype),
        return_dict=False,
        **text,
    )[0]


def _forward_inputs(name: str, arch: Architecture, latent: Latent, module) -> dict[str, Any]:
    """Latents with the condition latents and mask concatenated (zeros for text-to-video), the
    Qwen prompt, the ByT5 glyph tokens and the (zero) image tokens."""
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    glyph = arch.extra["glyph_tokens"]
    return dict(
        hidden_states=meta(1, 2 * c + 1, f, h, w),
        timestep=meta(1),
        encoder_hidden_states=meta(1, arch.text_tokens, arch.extra["text_dim"]),
        encoder_attention_mask=meta_mask(arch.text_tokens),
        encoder_hidden_states_2=meta(1, glyph, arch.extra["glyph_dim"]),
        encoder_attention_mask_2=meta_mask(glyph),
        image_embeds=meta(1, arch.extra["image_tokens"], 1152),
    )


def _meta_forward(module: torch.nn.Module, kw: dict[str, Any]) -> tuple[torch.Tensor]:
    """HunyuanVideo15Transformer3DModel.forward's arithmetic on meta tensors.

    The real forward reorders the prompt tokens by their masks' values (valid ones first), which
    a meta tensor has none of; the reordering does no arithmetic and keeps the length, so the
    blocks see the image, glyph and Qwen tokens concatenated, as here, every token valid.
    """
    x = kw["hidden_states"]
    rotary = module.rope(x)
    temb = module.time_embed(kw["timestep"])
    hidden = module.x_embedder(x)
    text = module.context_embedder(
        kw["encoder_hidden_states"], kw["timestep"], kw["encoder_attention_mask"]
    )
    glyph = module.context_embedder_2(kw["encoder_hidden_states_2"])
    image = module.image_embedder(kw["image_embeds"])
    context = torch.cat([image, glyph, text], dim=1)
    mask = torch.ones(context.shape[:2], device=context.device, dtype=torch.bool)
    for block in module.transformer_blocks:
        hidden, context = block(hidden, context, temb, mask, rotary)
    return (module.proj_out(module.norm_out(hidden, temb)),)


def _call_keywords(pipe: Any, model: VideoModel, kwargs: dict[str, Any]) -> None:
    """Its guidance comes from the pipeline's guider, not from the call: the guidance scale
    moves into a guider of the same kind. The I2V pipeline takes no width or height: it renders
    the size bucket nearest the still's aspect among those of `target_size`^2 pixels. A still
    cropped to width x height and a target of sqrt(width x height) make that bucket exactly
    width x height."""
    if "image" in kwargs:
        width, height = kwargs.pop("width"), kwargs.pop("height")
        pipe.target_size = math.sqrt(width * height)
        kwargs["image"] = ImageOps.fit(kwargs["image"], (width, height), Image.Resampling.LANCZOS)
    scale = kwargs.pop("guidance_scale")
    if pipe.guider.guidance_scale != scale:
        pipe.guider = pipe.guider.new(guidance_scale=scale)


FAMILY = Family(
    name="hunyuan15",
    transformer_classes=("HunyuanVideo15Transformer3DModel",),
    encode_text=_encode_text,
    normalise_latents=scaled_latents,
    predict=_predict,
    forward_inputs=_forward_inputs,
    musubi=musubi_task,
    tiny="resources.tiny.families:tiny_hunyuan15",
    tiny_checkpoint="resources.tiny.families:tiny_hunyuan15_checkpoint",
    meta_forward=_meta_forward,
    call_keywords=_call_keywords,
    step_callback=False,  # its call takes no step callback: the steps are reported at the end
    # HunyuanVideo15Pipeline reads its VAE's config when it is built.
    training_keeps=("vae",),
)
