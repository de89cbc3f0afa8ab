"""Wan 2.1 and 2.2 (Alibaba): umT5 prompts, one or two experts, text- and image-to-video."""

from __future__ import annotations

from typing import Any

import torch

from resources.domain.architectures import Architecture, Latent
from resources.domain.registry import REFERENCE_MODELS, VIDEO_MODELS, VideoModel
from resources.families.base import Family, meta, standardised_latents


def _encode_text(pipe: Any, caption: str, device: str) -> dict[str, torch.Tensor]:
    # Wan has no cross-attention mask: pad to the length `__call__` renders with.
    embeds, _ = pipe.encode_prompt(
        caption, do_classifier_free_guidance=False, max_sequence_length=512, device=device
    )
    return {"encoder_hidden_states": embeds}


def _normalise(pipe: Any, latents: torch.Tensor) -> torch.Tensor:
    return standardised_latents(pipe, latents, scaled=False)


def _predict(pipe, model, transformer, noisy, timestep, text) -> torch.Tensor:
    return transformer(hidden_states=noisy, timestep=timestep, return_dict=False, **text)[0]


def _forward_inputs(name: str, arch: Architecture, latent: Latent, module) -> dict[str, Any]:
    f, h, w = latent.frames, latent.height, latent.width
    _, ph, pw = module.config.patch_size
    tokens = f * (h // ph) * (w // pw)
    # Wan 2.2 TI2V denoises with one timestep per token (the registry's expand_timesteps).
    expand = {**VIDEO_MODELS, **REFERENCE_MODELS}[name].expand_timesteps
    timestep = meta(1, tokens) if expand else meta(1)
    # The image-to-video transformer reads the still's latent and mask beside the noise.
    return dict(
        hidden_states=meta(1, module.config.in_channels, f, h, w),
        timestep=timestep,
        encoder_hidden_states=meta(1, arch.text_tokens, 4096),
    )


def _musubi(model: VideoModel) -> dict[str, Any]:
    # musubi-tuner trains Wan 2.2's two experts with its own script family and a boundary.
    two = model.experts == 2
    return {
        "family": "wan22" if two else "wan",
        "task": model.musubi_task,
        "flow_shift": model.flow_shift,
        "timestep_boundary": model.boundary_ratio if two else None,
    }


FAMILY = Family(
    name="wan",
    transformer_classes=("WanTransformer3DModel",),
    encode_text=_encode_text,
    normalise_latents=_normalise,
    predict=_predict,
    forward_inputs=_forward_inputs,
    musubi=_musubi,
    tiny="resources.tiny.video:tiny_wan",
)
