"""LTX-Video (Lightricks, 2024-2025): packed latent tokens, T5 prompts, RoPE scaled by fps."""

from __future__ import annotations

from typing import Any

import torch

from resources.domain.architectures import Architecture, Latent
from resources.domain.registry import VideoModel
from resources.families.base import Family, meta, meta_mask


def _encode_text(pipe: Any, caption: str, device: str) -> dict[str, torch.Tensor]:
    embeds, mask, _, _ = pipe.encode_prompt(
        caption, do_classifier_free_guidance=False, device=device
    )
    return {"encoder_hidden_states": embeds, "encoder_attention_mask": mask}


def _normalise(pipe: Any, latents: torch.Tensor) -> torch.Tensor:
    vae = pipe.vae
    mean = vae.latents_mean.view(1, -1, 1, 1, 1).float().cpu()
    std = vae.latents_std.view(1, -1, 1, 1, 1).float().cpu()
    return (latents - mean) * vae.config.scaling_factor / std


def _predict(pipe, model, transformer, noisy, timestep, text) -> torch.Tensor:
    _, _, f, h, w = noisy.shape
    p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
    packed = pipe._pack_latents(noisy, p, pt)
    scale = (
        pipe.vae_temporal_compression_ratio / model.native_fps,
        pipe.vae_spatial_compression_ratio,
        pipe.vae_spatial_compression_ratio,
    )
    out = transformer(
        hidden_states=packed,
        timestep=timestep,
        num_frames=f // pt,
        height=h // p,
        width=w // p,
        rope_interpolation_scale=scale,
        return_dict=False,
        **text,
    )[0]
    return pipe._unpack_latents(out, f // pt, h // p, w // p, p, pt)


def _forward_inputs(name: str, arch: Architecture, latent: Latent, module) -> dict[str, Any]:
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    return dict(
        hidden_states=meta(1, f * h * w, c),
        encoder_hidden_states=meta(1, arch.text_tokens, 4096),
        timestep=meta(1),
        encoder_attention_mask=meta_mask(arch.text_tokens),
        num_frames=f,
        height=h,
        width=w,
        rope_interpolation_scale=(arch.temporal_compression / 24, 32, 32),
    )


def _decode_keywords(vae: torch.nn.Module) -> dict[str, Any]:
    # LTX-Video 0.9.1+ decodes at a noise level (timestep conditioning); 0.9.0 does not.
    return {"temb": meta(1)} if vae.config.timestep_conditioning else {}


def _call_keywords(pipe: Any, model: VideoModel, kwargs: dict[str, Any]) -> None:
    # LTX scales its temporal RoPE by the frame rate; its default (25) is not the registry's.
    kwargs["frame_rate"] = model.native_fps


FAMILY = Family(
    name="ltx",
    transformer_classes=("LTXVideoTransformer3DModel",),
    encode_text=_encode_text,
    normalise_latents=_normalise,
    predict=_predict,
    forward_inputs=_forward_inputs,
    tiny="resources.tiny.video:tiny_ltx",
    meta_decode_keywords=_decode_keywords,
    call_keywords=_call_keywords,
)
