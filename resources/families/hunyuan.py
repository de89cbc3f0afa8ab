"""HunyuanVideo (Tencent, 2024): guidance-distilled, two text encoders (LLaVA-Llama and CLIP)."""

from __future__ import annotations

from typing import Any

import torch

from resources.domain.architectures import Architecture, Latent
from resources.families.base import Family, meta, meta_mask, scaled_latents


def _encode_text(pipe: Any, caption: str, device: str) -> dict[str, torch.Tensor]:
    embeds, pooled, mask = pipe.encode_prompt(caption, device=device)
    return {
        "encoder_hidden_states": embeds,
        "encoder_attention_mask": mask,
        "pooled_projections": pooled,
    }


def _predict(pipe, model, transformer, noisy, timestep, text) -> torch.Tensor:
    guidance = None
    if transformer.config.guidance_embeds:
        # Distilled guidance: the embedded scale training sees is the one rendering uses.
        guidance = torch.full((noisy.shape[0],), model.guidance_scale * 1000.0)
        guidance = guidance.to(noisy.device, noisy.dtype)
    return transformer(
        hidden_states=noisy, timestep=timestep, guidance=guidance, return_dict=False, **text
    )[0]


def _forward_inputs(name: str, arch: Architecture, latent: Latent, module) -> dict[str, Any]:
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    return dict(
        hidden_states=meta(1, c, f, h, w),
        timestep=meta(1),
        encoder_hidden_states=meta(1, arch.text_tokens, 4096),
        encoder_attention_mask=meta_mask(arch.text_tokens, torch.bool),
        pooled_projections=meta(1, arch.extra["pooled_dim"]),
        guidance=meta(1),
    )


FAMILY = Family(
    name="hunyuan",
    transformer_classes=("HunyuanVideoTransformer3DModel",),
    encode_text=_encode_text,
    # Its pipeline decodes latents / scaling_factor.
    normalise_latents=scaled_latents,
    predict=_predict,
    forward_inputs=_forward_inputs,
    musubi=lambda model: {"family": "hunyuan", "flow_shift": model.flow_shift},
    tiny="resources.tiny.video:tiny_hunyuan",
    embedded_guidance=True,
)
