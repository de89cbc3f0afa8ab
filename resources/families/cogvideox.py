"""CogVideoX (THUDM/Zhipu): v-prediction DDPM, frames-first latents, T5 prompts padded."""

from __future__ import annotations

from typing import Any

import torch

from resources.domain.architectures import Architecture, Latent
from resources.families.base import Family, meta, scaled_latents


def _encode_text(pipe: Any, caption: str, device: str) -> dict[str, torch.Tensor]:
    # Padded to the transformer's text length, as CogVideoXPipeline renders with.
    embeds, _ = pipe.encode_prompt(
        caption,
        do_classifier_free_guidance=False,
        max_sequence_length=pipe.transformer.config.max_text_seq_length,
        device=device,
    )
    return {"encoder_hidden_states": embeds}


def _predict(pipe, model, transformer, noisy, timestep, text) -> torch.Tensor:
    """CogVideoX's v for `noisy` (B, C, F, h, w): its transformer works on (B, F, C, h, w)."""
    frames_first = noisy.permute(0, 2, 1, 3, 4)
    _, f, _, h, w = frames_first.shape
    rotary = None
    if transformer.config.use_rotary_positional_embeddings:
        scale = pipe.vae_scale_factor_spatial
        rotary = pipe._prepare_rotary_positional_embeddings(h * scale, w * scale, f, noisy.device)
    out = transformer(
        hidden_states=frames_first,
        timestep=timestep,
        image_rotary_emb=rotary,
        return_dict=False,
        **text,
    )[0]
    return out.permute(0, 2, 1, 3, 4)


def _forward_inputs(name: str, arch: Architecture, latent: Latent, module) -> dict[str, Any]:
    # Rotary embeddings are elementwise (no FLOPs the counter sees): left out.
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    return dict(
        hidden_states=meta(1, f, c, h, w),
        encoder_hidden_states=meta(1, arch.text_tokens, 4096),
        timestep=meta(1),
    )


FAMILY = Family(
    name="cogvideox",
    transformer_classes=("CogVideoXTransformer3DModel",),
    encode_text=_encode_text,
    # train_cogvideox_lora.py: the VAE latent times scaling_factor (the pipeline divides).
    normalise_latents=scaled_latents,
    predict=_predict,
    forward_inputs=_forward_inputs,
    tiny="resources.tiny.video:tiny_cogvideox",
)
