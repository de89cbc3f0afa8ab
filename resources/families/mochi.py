"""Mochi 1 (Genmo): inverted sigmas, its transformer predicts x0 - noise, T5 prompts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import torch

from resources.domain.architectures import Architecture, Latent
from resources.families.base import Family, meta, meta_mask, standardised_latents


def _encode_text(pipe: Any, caption: str, device: str) -> dict[str, torch.Tensor]:
    embeds, mask, _, _ = pipe.encode_prompt(
        caption, do_classifier_free_guidance=False, device=device
    )
    return {"encoder_hidden_states": embeds, "encoder_attention_mask": mask}


def _normalise(pipe: Any, latents: torch.Tensor) -> torch.Tensor:
    # The inverse of MochiPipeline's decode: latents * std / scaling_factor + mean.
    return standardised_latents(pipe, latents, scaled=True)


def _predict(pipe, model, transformer, noisy, timestep, text) -> torch.Tensor:
    # Inverted timestep, and the output is x0 - noise: the flow target with its sign flipped.
    out = transformer(hidden_states=noisy, timestep=1000.0 - timestep, return_dict=False, **text)[0]
    return -out


def _forward_inputs(name: str, arch: Architecture, latent: Latent, module) -> dict[str, Any]:
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    return dict(
        hidden_states=meta(1, c, f, h, w),
        encoder_hidden_states=meta(1, arch.text_tokens, 4096),
        timestep=meta(1),
        encoder_attention_mask=meta_mask(arch.text_tokens, torch.bool),
    )


@contextmanager
def _on_meta() -> Iterator[None]:
    """MochiTransformer3DModel autocasts its RoPE to the tensors' device type (autocast has no
    "meta"), and its attention keeps the prompt tokens the mask marks with `torch.nonzero`
    (no meta kernel: the output shape depends on values). Both are patched for the count only:
    autocast becomes a no-op on meta and every prompt token counts as kept, the most FLOPs a
    prompt can cost (an upper bound for prompts shorter than Mochi's 256 tokens).
    """
    real_autocast, real_nonzero = torch.autocast, torch.nonzero

    def autocast(device_type: str, *args: Any, **kwargs: Any):
        if device_type == "meta":
            return contextlib.nullcontext()
        return real_autocast(device_type, *args, **kwargs)

    def nonzero(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if tensor.is_meta:
            return torch.arange(tensor.numel(), device=tensor.device).unsqueeze(1)
        return real_nonzero(tensor, *args, **kwargs)

    with (
        mock.patch.object(torch, "autocast", autocast),
        mock.patch.object(torch, "nonzero", nonzero),
    ):
        yield


FAMILY = Family(
    name="mochi",
    transformer_classes=("MochiTransformer3DModel",),
    encode_text=_encode_text,
    normalise_latents=_normalise,
    predict=_predict,
    forward_inputs=_forward_inputs,
    tiny="resources.tiny.video:tiny_mochi",
    on_meta=_on_meta,
)
