"""Kandinsky 5 (Kandinsky Lab, 2025): channels-last latents beside a visual condition, Qwen
prompts with CLIP's pooled vector, HunyuanVideo's VAE."""

from __future__ import annotations

from typing import Any

import torch

from resources.domain.architectures import Architecture, Latent
from resources.families.base import Family, meta, musubi_task, scaled_latents


def _encode_text(pipe: Any, caption: str, device: str) -> dict[str, torch.Tensor]:
    # Qwen's tokens (the template cropped), CLIP's pooled vector and the prompt's RoPE positions,
    # as Kandinsky5T2VPipeline.__call__ makes them (max 512 tokens).
    qwen, clip, cu_seqlens = pipe.encode_prompt(caption, max_sequence_length=512, device=device)
    length = int(cu_seqlens.diff().max())
    return {
        "encoder_hidden_states": qwen,
        "pooled_projections": clip,
        "text_rope_pos": torch.arange(length, device=qwen.device),
    }


def _predict(pipe, model, transformer, noisy, timestep, text) -> torch.Tensor:
    """The velocity for `noisy` (B, C, F, h, w): the transformer works channels-last with the
    visual condition (zeros and a zero mask: text-to-video) beside the latents."""
    x = noisy.permute(0, 2, 3, 4, 1)
    b, f, h, w, c = x.shape
    if transformer.visual_cond:
        mask = torch.zeros(b, f, h, w, 1, device=x.device, dtype=x.dtype)
        x = torch.cat([x, torch.zeros_like(x), mask], dim=-1)
    _, ph, pw = transformer.config.patch_size
    scale = pipe.vae_scale_factor_spatial
    out = transformer(
        hidden_states=x,
        encoder_hidden_states=text["encoder_hidden_states"],
        pooled_projections=text["pooled_projections"],
        timestep=timestep.to(x.dtype),
        visual_rope_pos=[
            torch.arange(f, device=x.device),
            torch.arange(h // ph, device=x.device),
            torch.arange(w // pw, device=x.device),
        ],
        text_rope_pos=text["text_rope_pos"],
        scale_factor=pipe._get_scale_factor(h * scale, w * scale),
        sparse_params=pipe.get_sparse_params(x, x.device),
        return_dict=False,
    )
    return out.permute(0, 4, 1, 2, 3)


def _forward_inputs(name: str, arch: Architecture, latent: Latent, module) -> dict[str, Any]:
    """Channels-last latents with the visual condition (zeros and a mask) beside them, the Qwen
    prompt, CLIP's pooled vector, and the RoPE positions the pipeline builds."""
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    channels = 2 * c + 1 if module.config.visual_cond else c
    _, ph, pw = module.config.patch_size
    return dict(
        hidden_states=meta(1, f, h, w, channels),
        encoder_hidden_states=meta(1, arch.text_tokens, arch.extra["text_dim"]),
        pooled_projections=meta(1, arch.extra["pooled_dim"]),
        timestep=meta(1),
        visual_rope_pos=[
            torch.arange(f, device="meta"),
            torch.arange(h // ph, device="meta"),
            torch.arange(w // pw, device="meta"),
        ],
        text_rope_pos=torch.arange(arch.text_tokens, device="meta"),
        scale_factor=(1, 2, 2),
    )


FAMILY = Family(
    name="kandinsky5",
    transformer_classes=("Kandinsky5Transformer3DModel",),
    encode_text=_encode_text,
    # Its pipeline decodes latents / scaling_factor (HunyuanVideo's VAE).
    normalise_latents=scaled_latents,
    predict=_predict,
    forward_inputs=_forward_inputs,
    musubi=musubi_task,
    tiny="resources.tiny.families:tiny_kandinsky5",
    tiny_checkpoint="resources.tiny.families:tiny_kandinsky5_checkpoint",
)
